/**
 * How busy the machine was while a benchmark scenario ran, from Linux's /proc: a figure taken while something else
 * used the CPU understates the product, so the bench prints it marked, not as a result.
 *
 * /proc/stat's first line counts, since boot and over every core, the time spent in each state (proc(5)):
 * user nice system idle iowait irq softirq steal ... in clock ticks (USER_HZ, 100 on Linux).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

const ticksPerSecond = 100;

export interface CpuTimes {
  /** Seconds of CPU in use (user, nice, system, irq, softirq), over every core. */
  busy: number;
  /** Seconds the hypervisor gave our virtual CPUs to someone else. */
  steal: number;
  /** Every state's seconds, over every core. */
  total: number;
  loadAverage1: number;
}

export function cpuTimes(): CpuTimes {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map((ticks) => Number(ticks) / ticksPerSecond) as [number, number, number, number, number, number, number, number];
  return {
    busy: user + nice + system + irq + softirq,
    steal,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
    loadAverage1: loadavg()[0]!,
  };
}

export interface LoadDuring {
  /** The load average (1 min) when the scenario started: what ran before it. */
  loadAverage1: number;
  /** Share of the machine's CPU (every core) others used while it ran: busy time less the scenario's own. */
  othersShare: number;
  /** Share of the CPU time stolen by the hypervisor. */
  stealShare: number;
  /** Whether the figure is a result: others used under 5 % of the machine, the hypervisor stole under 2 %. */
  quiet: boolean;
}

/** The load between two readings, given the CPU seconds the scenario's own process used in between. */
export function loadDuring(before: CpuTimes, after: CpuTimes, ownCpuSeconds: number): LoadDuring {
  const total = Math.max(after.total - before.total, 1e-9);
  const othersShare = Math.max(0, after.busy - before.busy - ownCpuSeconds) / total;
  const stealShare = (after.steal - before.steal) / total;
  return {
    loadAverage1: before.loadAverage1,
    othersShare: Math.round(othersShare * 1000) / 1000,
    stealShare: Math.round(stealShare * 1000) / 1000,
    quiet: othersShare < 0.05 && stealShare < 0.02,
  };
}

/** "load 0.12, others 1 % CPU, steal 0 %", and NOT A RESULT when the machine was busy. */
export function describeLoad(load: LoadDuring): string {
  const text = `load ${load.loadAverage1.toFixed(2)}, others ${(load.othersShare * 100).toFixed(0)} % of ${availableParallelism()} cores, steal ${(load.stealShare * 100).toFixed(0)} %`;
  return load.quiet ? text : `${text}: NOT A RESULT (the machine was busy)`;
}
