/**
 * Opens the database: embedded PGlite persisted in the data dir when no DATABASE_URL is given,
 * node-postgres otherwise. Both expose the same Drizzle API over the same schema, and both give
 * pg-boss an executor so the queue lives in the same database.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdir } from 'node:fs/promises';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import * as schema from './schema.js';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Anything that can run queries: the database or an open transaction. */
export type Executor = Db | Tx;

/** What pg-boss needs to run SQL (its `db` option). */
export interface SqlExecutor {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** pg-boss's executor outside transactions. */
  boss: SqlExecutor | { connectionString: string };
  close(): Promise<void>;
}

export const MIGRATIONS_FOLDER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle');

/**
 * Runs plain SQL on the connection of a Drizzle transaction, so pg-boss's inserts join the
 * business transaction. It goes to the driver's own client (PGlite's transaction or the pooled
 * node-postgres client) rather than through Drizzle's SQL builder: pg-boss reuses a placeholder
 * in several places ($5 as text and as a timestamp), which only the server's own parameter typing
 * handles, and Drizzle would turn each use into a separate, differently typed parameter.
 */
export function txExecutor(tx: Executor): SqlExecutor {
  const client = (tx as unknown as { session: { client: { query(text: string, values?: unknown[]): Promise<{ rows: any[] }> } } }).session.client;
  return {
    async executeSql(text, values) {
      const result = await client.query(text, values ?? []);
      return { rows: result.rows };
    },
  };
}

/**
 * `dataDir: 'memory://'` keeps PGlite in memory (tests). PGlite takes ~4 s and ~750 MB to start:
 * open one per process, never one per test.
 */
export async function openDatabase(opts: { databaseUrl?: string; dataDir: string; migrate?: boolean }): Promise<Database> {
  let database: Database;
  if (opts.databaseUrl) {
    const { default: pg } = await import('pg');
    const { drizzle } = await import('drizzle-orm/node-postgres');
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    // An idle pooled connection that the server drops (a restart, a failover, an admin's
    // pg_terminate_backend) is emitted here; unheard, that 'error' event would crash the process.
    // The pool discards the connection and the next query opens a new one, so logging is enough.
    pool.on('error', (err) => console.error(`[database] idle connection lost: ${err.message}`));
    const db = drizzle(pool, { schema }) as unknown as Db;
    database = {
      db,
      kind: 'postgres',
      boss: { connectionString: opts.databaseUrl },
      close: () => pool.end(),
    };
    if (opts.migrate !== false) {
      const { migrate } = await import('drizzle-orm/node-postgres/migrator');
      await migrate(db as never, { migrationsFolder: MIGRATIONS_FOLDER });
    }
  } else {
    const { PGlite } = await import('@electric-sql/pglite');
    const { drizzle } = await import('drizzle-orm/pglite');
    let dir = 'memory://';
    if (opts.dataDir !== 'memory://') {
      dir = path.join(opts.dataDir, 'pglite');
      await mkdir(dir, { recursive: true });
    }
    const client = await PGlite.create(dir);
    const db = drizzle(client, { schema }) as unknown as Db;
    database = {
      db,
      kind: 'pglite',
      boss: {
        // PGlite's query() takes one statement; pg-boss's schema scripts are multi-statement
        // and parameterless, which exec() runs.
        async executeSql(text, values) {
          if (values && values.length > 0) return client.query(text, values);
          const results = await client.exec(text);
          return { rows: results.at(-1)?.rows ?? [] };
        },
      },
      close: () => client.close(),
    };
    if (opts.migrate !== false) {
      const { migrate } = await import('drizzle-orm/pglite/migrator');
      await migrate(db as never, { migrationsFolder: MIGRATIONS_FOLDER });
    }
  }
  return database;
}
