/** The part of dynalite (a DynamoDB implementation on LevelDB) the tests use: it ships no types. */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  export default function dynalite(options?: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }): Server;
}
