/**
 * A throwaway database on a PostgreSQL server, for tests, benchmarks and the chaos run: each gets
 * a database of its own, so runs that share a server never see each other's rows or queues.
 */
import pg from 'pg';

export interface ScratchDatabase {
  url: string;
  /** Drops the database, ending any session still connected to it. */
  drop(): Promise<void>;
}

export async function createScratchDatabase(serverUrl: string, prefix: string): Promise<ScratchDatabase> {
  // Lower-case letters and digits only: the name is spliced into DDL, which takes no parameters.
  const name = `${prefix}_${Math.random().toString(36).slice(2, 10)}`.toLowerCase();
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new RangeError(`Not a safe database name: ${name}`);
  await onServer(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => onServer(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function onServer(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
