/**
 * A uniform sample of at most `size` items from a stream of unknown length (reservoir sampling, Algorithm R),
 * reproducible through a seeded generator: the same run gives the same scatter plot every time.
 */
export class ReservoirSample<T> {
  readonly size: number;
  readonly items: T[] = [];
  /** Items offered so far. */
  seen = 0;
  private readonly random: () => number;

  constructor(size: number, seed = 1) {
    this.size = size;
    this.random = seededRandom(seed);
  }

  offer(item: T): void {
    this.seen++;
    if (this.items.length < this.size) {
      this.items.push(item);
      return;
    }
    const slot = Math.floor(this.random() * this.seen);
    if (slot < this.size) this.items[slot] = item;
  }
}

/** mulberry32: a small, fast, well-distributed 32-bit generator; Math.random cannot be seeded. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
