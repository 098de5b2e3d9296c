/** DuckDB as the second, independent Parquet reader of the tests (a devDependency only). */
import { DuckDBInstance, type JS } from '@duckdb/node-api';

/** Rows of a query, with DuckDB's values as plain JS (FLOAT[] as number[], BIGINT as bigint). */
export async function query(sql: string): Promise<Record<string, JS>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** A path as a DuckDB string literal. */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
