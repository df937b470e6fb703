"""
Likeness's RunPod serverless worker for AI Toolkit (ostris/ai-toolkit): one training per job.

Input (job["input"], built by src/training/runpod-serverless.backend.ts; README.md has the contract):
  job_name   the AI Toolkit job name (config.name); output files are named after it
  config     the AI Toolkit job config; process[0].training_folder and every datasets[].folder_path
             are replaced with this worker's own folders
  dataset    {"files": [{"name", "url", "size"?}]}: images and captions, signed GET URLs
  upload     {"files": {"<lora file name>": "<signed PUT URL>"}, "samples": ["<signed PUT URL>", ...]}
  claim_url  optional signed GET URL of Likeness's marker {"jobId": ...}: when it names another job,
             this one is an orphan of a retried /run and quits at once

What it does: downloads the dataset, writes the config as JSON, runs `python run.py CONFIG` in the
AI Toolkit checkout, reads the trainer's output (the tqdm bar "<job>:  25%|..| 250/1000 [.., 1.20s/it,
lr: 1.0e-04 loss: 4.123e-01]", plain lines, the traceback) and reports
{"step", "total_steps", "seconds_per_step"?, "loss"?, "message"} with runpod.serverless.progress_update,
then PUTs each final LoRA file and the last samples to their signed URLs.
Returns {"files": [{"name", "size", "sha256"}], "samples": [{"name", "index"}]} or {"error": "<one
line>"}: runpod-python turns a string `error` into a FAILED job (contracts/README.md §2.4).

Standard library only, and `runpod` is imported in main() alone, so the logic runs and is tested
anywhere with python3 (tests/training/aitoolkit-serverless-worker.test.ts).

Environment: AITK_DIR (the checkout holding run.py, default /app/ai-toolkit), AITK_PYTHON (default
this interpreter), LIKENESS_WORK_DIR (scratch, default the system temp dir), LIKENESS_PROGRESS_SECONDS
(least time between two progress updates, default 5), HF_TOKEN etc. pass through to the trainer.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
JOB_NAME = re.compile(r"^[A-Za-z0-9_]+$")
SAMPLE_NAME = re.compile(r"^(\d+)__(\d{9})_(\d+)\.(png|jpe?g|webp|mp4)$", re.I)
ANY_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+\s*\[")
MAX_LINE = 300
HTTP_TIMEOUT = 120


def redact(url):
    return url.split("?", 1)[0]


def validate_input(raw):
    """The input, checked; or {"error": ...} with the same sentences as the emulator's handler."""
    if not isinstance(raw, dict):
        return {"error": "Please provide input"}
    if not isinstance(raw.get("config"), dict):
        return {"error": "Missing 'config' in input"}
    files = (raw.get("dataset") or {}).get("files") if isinstance(raw.get("dataset"), dict) else None
    if not isinstance(files, list) or not files or not all(isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("url"), str) for f in files):
        return {"error": "'dataset.files' must be a non-empty list of objects with 'name' and 'url'"}
    for f in files:
        if not FILE_NAME.match(f["name"]):
            return {"error": f"Dataset file name '{f['name']}' is not a plain file name"}
    upload = raw.get("upload") if isinstance(raw.get("upload"), dict) else {}
    uploads = upload.get("files")
    if not isinstance(uploads, dict) or not uploads or not all(isinstance(u, str) for u in uploads.values()):
        return {"error": "'upload.files' must map LoRA file names to signed PUT URLs"}
    job_name = raw.get("job_name") or raw["config"].get("config", {}).get("name")
    if not isinstance(job_name, str) or not JOB_NAME.match(job_name):
        return {"error": "'job_name' must be letters, digits and underscores"}
    return {
        "job_name": job_name,
        "config": raw["config"],
        "files": files,
        "uploads": uploads,
        "samples": [u for u in upload.get("samples") or [] if isinstance(u, str)],
        "claim_url": raw.get("claim_url") if isinstance(raw.get("claim_url"), str) else None,
    }


def http_get(url):
    """(status, body); a refused request is a status, a network failure an exception."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=HTTP_TIMEOUT) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_put_file(url, path):
    """PUTs a file with its exact Content-Length (S3 presigned PUTs refuse chunked bodies); returns its sha256."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        req = urllib.request.Request(url, data=f, method="PUT", headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(req, timeout=max(HTTP_TIMEOUT, size / 5e6)) as res:
                res.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"Uploading {os.path.basename(path)} to {redact(url)} failed: HTTP {e.code}") from None
        except OSError as e:
            raise RuntimeError(f"Uploading {os.path.basename(path)} to {redact(url)} failed: {e}") from None
    return digest.hexdigest()


class TrainerLog:
    """Reads the trainer's merged output as src/training/aitoolkit/aitoolkit-log.parser.ts does."""

    def __init__(self, job_name, total_steps):
        self.bar = re.compile(r"^" + re.escape(job_name) + r":\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)\s+\[([^\]]*)\]")
        self.progress = {"step": 0, "total_steps": total_steps, "message": "Starting"}
        self.last_line = None
        self.error_running = None
        self.traceback = None  # lines since the last "Traceback (most recent call last):"

    def feed(self, line):
        line = line.rstrip()
        m = self.bar.match(line)
        if m:
            p = {"step": int(m.group(1)), "total_steps": int(m.group(2)), "message": "Training"}
            rate = re.search(r"(?:^|,\s*)([\d.]+)(it/s|s/it)", m.group(3))
            if rate and float(rate.group(1)) > 0:
                p["seconds_per_step"] = float(rate.group(1)) if rate.group(2) == "s/it" else 1 / float(rate.group(1))
            loss = re.search(r"(?:^|[\s,])loss: ([-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?)", m.group(3), re.I)
            if loss:
                p["loss"] = float(loss.group(1))
            self.progress = p
            line = line[m.end():]
            if not line:
                return
        if line.startswith("Traceback (most recent call last):"):
            self.traceback = []
        elif self.traceback is not None:
            self.traceback.append(line)
        err = re.match(r"^Error running job: (.*)$", line)
        if err:
            self.error_running = err.group(1).strip() or None
        if self.is_noise(line) or line in ("Result:", "Job stopped"):
            return
        self.last_line = line[: MAX_LINE - 1] + "…" if len(line) > MAX_LINE else line
        if not self.bar.match(line):
            self.progress = {**self.progress, "message": self.last_line}

    @staticmethod
    def is_noise(line):
        return line.strip() == "" or line[:1].isspace() or line[:1] in "{}[]\"" or re.match(r"^[#=*-]{4,}$", line) or line.startswith("# ") or ANY_BAR.search(line)

    def failure(self):
        """The exception that ended the run (the traceback's flush-left line), else the last line."""
        for line in self.traceback or []:
            if line.strip() and not line[:1].isspace():
                return line.strip()[:MAX_LINE]
        return self.error_running or self.last_line or "AI Toolkit exited without a message"


def run_trainer(config_path, job_name, total_steps, log_path, progress_update, progress_seconds):
    """Runs `python run.py CONFIG`, reporting progress at most every `progress_seconds`. Returns (code, TrainerLog)."""
    aitk_dir = os.environ.get("AITK_DIR", "/app/ai-toolkit")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("AITK_JOB_ID", None)  # CLI mode: never write to a UI database in the image
    env.pop("IS_AI_TOOLKIT_UI", None)
    proc = subprocess.Popen([os.environ.get("AITK_PYTHON", sys.executable), "run.py", config_path], cwd=aitk_dir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = TrainerLog(job_name, total_steps)
    lock = threading.Lock()

    def pump():
        buf = b""
        with open(log_path, "ab") as out:
            for chunk in iter(lambda: proc.stdout.read1(65536), b""):
                out.write(chunk)
                buf += chunk
                # tqdm redraws with "\r": every redraw is a line of its own here.
                parts = re.split(rb"\r\n|\r|\n", buf)
                buf = parts.pop()
                with lock:
                    for p in parts:
                        log.feed(p.decode("utf-8", "replace"))
            if buf:
                with lock:
                    log.feed(buf.decode("utf-8", "replace"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    last_sent, last_at = None, 0.0
    while True:
        done = proc.poll() is not None and not reader.is_alive()
        with lock:
            current = dict(log.progress)
        now = time.monotonic()
        if current != last_sent and (now - last_at >= progress_seconds or done):
            progress_update(current)
            last_sent, last_at = current, now
        if done:
            return proc.returncode, log
        time.sleep(min(0.2, progress_seconds))


def pick_samples(samples_dir, count):
    """The samples of the last step that has any, by prompt index (AI Toolkit's names, contracts §3.6)."""
    found = []
    for name in os.listdir(samples_dir) if os.path.isdir(samples_dir) else []:
        m = SAMPLE_NAME.match(name)
        if m:
            found.append((int(m.group(2)), int(m.group(3)), name))
    if not found:
        return []
    last = max(step for step, _, _ in found)
    return [name for _, _, name in sorted(f for f in found if f[0] == last)][:count]


def run_job(job, progress_update):
    """The whole job; never raises for a trainer or transfer failure (those are {"error": ...})."""
    checked = validate_input(job.get("input"))
    if "error" in checked:
        return checked
    if checked["claim_url"]:
        try:
            status, body = http_get(checked["claim_url"])
            owner = json.loads(body or b"{}").get("jobId") if status == 200 else None
        except (OSError, ValueError):
            owner = None
        if isinstance(owner, str) and owner != job.get("id"):
            return {"error": f"Superseded: job {owner} owns {checked['job_name']}"}
    work = tempfile.mkdtemp(prefix="likeness-", dir=os.environ.get("LIKENESS_WORK_DIR") or None)
    try:
        return train(job, checked, work, progress_update)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def train(job, checked, work, progress_update):
    job_name = checked["job_name"]
    dataset_dir, output_dir = os.path.join(work, "dataset"), os.path.join(work, "output")
    os.makedirs(dataset_dir)
    config = checked["config"]
    process = config.get("config", {}).get("process", [{}])[0]
    total_steps = int(process.get("train", {}).get("steps") or 0)
    progress_update({"step": 0, "total_steps": total_steps, "message": "Downloading dataset"})
    for f in checked["files"]:
        try:
            status, body = http_get(f["url"])
        except OSError as e:
            return {"error": f"Downloading dataset file {f['name']} failed: {e}"}
        if status != 200:
            return {"error": f"Downloading dataset file {f['name']} failed: HTTP {status}"}
        with open(os.path.join(dataset_dir, f["name"]), "wb") as out:
            out.write(body)
    process["training_folder"] = output_dir
    for d in process.get("datasets") or []:
        d["folder_path"] = dataset_dir
    text = json.dumps(config, indent=2)
    if "${" in text:  # AI Toolkit's loader would read it as an environment variable
        return {"error": 'The training config contains "${", which AI Toolkit would read as an environment variable'}
    config_path = os.path.join(work, "config.json")
    with open(config_path, "w", encoding="utf-8") as out:
        out.write(text)

    progress_seconds = float(os.environ.get("LIKENESS_PROGRESS_SECONDS", "5"))
    code, log = run_trainer(config_path, job_name, total_steps, os.path.join(work, "log.txt"), progress_update, progress_seconds)
    if code != 0:
        return {"error": log.failure()}

    save_root = os.path.join(output_dir, job_name)
    files = []
    try:
        for name, url in checked["uploads"].items():
            path = os.path.join(save_root, name)
            if not FILE_NAME.match(name) or not os.path.isfile(path):
                return {"error": f"AI Toolkit finished but wrote no {name}"}
            files.append({"name": name, "size": os.path.getsize(path), "sha256": http_put_file(url, path)})
        samples = []
        for index, name in enumerate(pick_samples(os.path.join(save_root, "samples"), len(checked["samples"]))):
            http_put_file(checked["samples"][index], os.path.join(save_root, "samples", name))
            samples.append({"name": name, "index": index})
    except RuntimeError as e:
        return {"error": str(e)}
    return {"files": files, "samples": samples}


def handler(job):
    import runpod  # only inside the worker image: the logic above needs nothing but the standard library

    return run_job(job, lambda progress: runpod.serverless.progress_update(job, progress))


def main():
    import runpod

    runpod.serverless.start({"handler": handler})


if __name__ == "__main__":
    main()
