/**
 * A count of offending rows (or parts) and the first few of them, to name in the validation report. Parts are
 * audited apart (functions/audit-part) and their tallies summed (functions/validate): a tally travels as JSON.
 */
export interface SerializedTally {
  count: number;
  examples: string[];
}

const exampleCount = 3;

export class Tally {
  count = 0;
  readonly examples: string[] = [];

  add(example: string): void {
    this.count++;
    if (this.examples.length < exampleCount) this.examples.push(example);
  }

  merge(other: SerializedTally): void {
    this.count += other.count;
    for (const example of other.examples) if (this.examples.length < exampleCount) this.examples.push(example);
  }

  describe(what: string): string {
    return `${this.count} ${what}, e.g. ${this.examples.join(', ')}`;
  }

  toJSON(): SerializedTally {
    return { count: this.count, examples: this.examples };
  }
}
