import { EventEmitter } from 'node:events';

/** A duration: milliseconds as a number, or an ms-style string such as `'500ms'`, `'5s'`, `'2 minutes'`. */
export type Duration = number | string;

/**
 * Settings of `init()`. Each has an environment variable too (see the README); an option
 * wins over the environment. Every value is validated before the first fork.
 */
export interface Options {
  /** `WORKERS`: 1-1024, `'AUTO'` or `'MAX'` (the CPUs this process may use). Default 1. */
  workers?: number | 'AUTO' | 'MAX' | 'auto' | 'max' | string;
  /** `MAX_KILL_TIMEOUT`: time a retiring worker has before SIGKILL. Default `'5s'`. */
  maxKillTimeout?: Duration;
  /** `WORKER_THROTTLE`: minimum life before an immediate restart. Default `'1s'`. */
  workerThrottle?: Duration;
  /** `PORT`: a path starting with `/` is a unix socket the master looks after; passed to workers. */
  port?: number | string;
  /** `MAX_MEMORY_ALLOWED_MB`: RSS limit per worker. Default 1200 (450 on 32-bit, less under a cgroup limit). */
  maxMemoryAllowedMb?: number | string;
  /** `MEM_MONITOR_FAILURES`: samples in a row over the memory limit before replacing. Default 10. */
  memMonitorFailures?: number | string;
  /** `MAX_CPU_ALLOWED`: percent of one core. Default 95. */
  maxCpuAllowed?: number | string;
  /** `CPU_MONITOR_FAILURES`: samples in a row over the CPU limit before replacing. Default 10. */
  cpuMonitorFailures?: number | string;
  /** `MASTER_PROCESS_MONITOR_INTERVAL`: time between samples. Default `'2s'`. */
  monitorInterval?: Duration;
  /** `MASTER_PROCESS_MONITOR_WARMUP`: age before a worker is sampled. Default `'30s'`. */
  monitorWarmup?: Duration;
  /** `MASTER_PROCESS_DRAIN`: preload the drain module into workers. Default true. */
  drain?: boolean | 'on' | 'off' | string;
  /** `MASTER_PROCESS_READY`: when a new worker is ready. Default `'listening'`. */
  ready?: 'listening' | 'message';
  /** `MASTER_PROCESS_READY_TIMEOUT`: a new worker not ready by then fails its reload. Default `'30s'`. */
  readyTimeout?: Duration;
  /** `MASTER_PROCESS_RELOAD_BATCH`: slots replaced at once during a reload. Default `'ALL'`. */
  reloadBatch?: number | 'ALL' | string;
  /** `MASTER_PROCESS_RELOAD_SWAP`: `'slot'` retires each old worker once its own replacement is ready (4.x); `'batch'` once the whole batch is. Default `'slot'`. */
  reloadSwap?: 'slot' | 'batch';
  /** `MASTER_PROCESS_HEARTBEAT_TIMEOUT`: a ready worker whose event loop does not answer for this long is replaced; 0 or `'off'` turns it off. Default `'30s'`. */
  heartbeatTimeout?: Duration | 'off';
  /** `MASTER_PROCESS_MAX_CRASHES`: fast crashes in a row before giving up (exit 70); 0 never. Default 10. */
  maxCrashes?: number | string;
  /** `MASTER_PROCESS_MAX_THROTTLE`: cap of the crash back-off. Default `'30s'`. */
  maxThrottle?: Duration;
  /**
   * `MASTER_PROCESS_CONTROL_SOCKET`: the control socket's path (absolute), or `'off'`.
   * Default: `<pid>.sock` in `$XDG_RUNTIME_DIR/master-process/`, else in
   * `master-process-<uid>/` in the temp directory.
   */
  controlSocket?: string | 'off';
  /**
   * `MASTER_PROCESS_COMPILE_CACHE`: the workers' module compile cache (`NODE_COMPILE_CACHE`,
   * Node 22.1 and later): `'on'` (a per-user folder in `$XDG_CACHE_HOME` or the temp folder),
   * `'off'`, or an absolute path to a folder. The user's own `NODE_COMPILE_CACHE` wins. Default `'on'`.
   */
  compileCache?: boolean | 'on' | 'off' | string;
  /**
   * `MASTER_PROCESS_NEW_VERSION`: what a new version of master-process found on disk does:
   * `'upgrade'` (the master upgrades itself in place, same pid) or `'exit'` (the 4.x exit 1,
   * for a service manager to restart). Default `'upgrade'`.
   */
  newVersion?: 'upgrade' | 'exit';
}

export interface WorkerInfo {
  pid: number;
  /** `WORKER_INDEX` */
  index: number;
  /** Its generation: its `RELOAD_INDEX`. */
  generation: number;
  /** @deprecated the same as `generation`, kept for 5.0 code. */
  reloadIndex: number;
}

export interface WorkerListeningEvent {
  id: number;
  pid: number;
  index: number;
  generation: number;
}

export interface WorkerExitEvent {
  id: number;
  pid?: number;
  index: number;
  code?: number;
  signal?: string;
  /** True when the master was retiring it (reload, replacement, shutdown). */
  expected: boolean;
}

export interface ReloadEvent {
  generation: number;
}

export interface ReloadFailedEvent {
  generation: number;
  reason: string;
}

export interface WorkerReplacedEvent {
  index: number;
  oldPid?: number;
  newPid?: number;
  reason: 'used too much memory' | 'used too much cpu' | 'could not be sampled' | string;
}

export interface ScaleEvent {
  /** The slots the master keeps now. */
  workers: number;
}

export interface StoppingEvent {
  code: number;
  reason: string;
}

export interface UpgradeRefusedEvent {
  /** Which upgrade attempt of this master (1, 2, ...) was refused. */
  attempt: number;
  /** Why; nothing changed (or the reload that ran first was rolled back). */
  reason: string;
}

export interface UpgradedEvent {
  /** Upgrades this master has had, this one included. */
  upgrades: number;
}

export interface MasterEvents {
  'worker-listening': [WorkerListeningEvent];
  'worker-exit': [WorkerExitEvent];
  reload: [ReloadEvent];
  'reload-failed': [ReloadFailedEvent];
  'worker-replaced': [WorkerReplacedEvent];
  scale: [ScaleEvent];
  stopping: [StoppingEvent];
  'upgrade-refused': [UpgradeRefusedEvent];
  /** Emitted by the new image's handle once its workers serve. */
  upgraded: [UpgradedEvent];
}

/** A worker in a status report. */
export interface WorkerStatus {
  /** The master's own id for it (as in the `worker-*` events). */
  id: number;
  /** Null until its fork is confirmed. */
  pid: number | null;
  /** `WORKER_INDEX` */
  index: number;
  /** Its generation: its `RELOAD_INDEX`. */
  generation: number;
  /** `starting` until ready, `serving` once ready, `retiring` while it is drained and stopped. */
  state: 'starting' | 'serving' | 'retiring';
  uptimeMs: number;
  /** RSS in bytes at the last sample; null before the first one (after the warm-up). */
  rssBytes: number | null;
  /** CPU in percent of one core at the last sample; null before the first one. */
  cpuPercent: number | null;
}

/** The settings in force, by option name: durations in ms, as `init()` accepts them back. */
export interface SettingsInForce {
  workers: number;
  maxKillTimeout: number;
  workerThrottle: number;
  port: string | null;
  maxMemoryAllowedMb: number;
  memMonitorFailures: number;
  maxCpuAllowed: number;
  cpuMonitorFailures: number;
  monitorInterval: number;
  monitorWarmup: number;
  drain: boolean;
  ready: 'listening' | 'message';
  readyTimeout: number;
  reloadBatch: number | 'ALL';
  reloadSwap: 'slot' | 'batch';
  maxCrashes: number;
  maxThrottle: number;
  /** The control socket's path, or `'off'`. */
  controlSocket: string;
  newVersion: 'upgrade' | 'exit';
}

/** The master's status: `handle.status()`, and the control socket's `status` answer. */
export interface Status {
  pid: number;
  /** master-process's version. */
  version: string;
  uptimeMs: number;
  /** Reloads so far: the newest `RELOAD_INDEX`. */
  generation: number;
  reloading: boolean;
  /** The count a scale in progress (or waiting for a reload or another scale) leads to; null when none. */
  scalingTo: number | null;
  /** Monitoring is paused. */
  paused: boolean;
  stopping: boolean;
  /** While a stop waits out `shutdownDelay` (the workers still serve): ms left; else null. */
  shutdownDelayLeftMs: number | null;
  /** The slots (`WORKER_INDEX` positions) the master keeps now; `settings.workers` is the start count. */
  slots: number;
  /** The control socket's path, or null without one. */
  controlSocket: string | null;
  settings: SettingsInForce;
  /** Every worker alive or starting, by index, then age. */
  workers: WorkerStatus[];
  /** What the master could not hand on because its reader did not keep up, since it started. */
  dropped: {
    /** Log lines dropped while stderr was not being read. */
    logLines: number;
    /** Notifications the service manager (`NOTIFY_SOCKET`) did not read. */
    notifications: number;
  };
  /** The Node version the master runs on (`process.version`). */
  node: string;
  /** Upgrades in place (see `handle.upgrade()`). */
  upgrade: {
    /** Upgrades this master (this pid) has had. */
    count: number;
    /** Upgrades asked for, refused ones included. */
    attempts: number;
    /** One is under way (reload, check or exec). */
    upgrading: boolean;
    /** This image came from an upgrade and its first generation is not serving yet. */
    resuming: boolean;
    /** When the running image started, in ms since the epoch (`uptimeMs` counts from it too). */
    imageStartedAt: number;
    /** Pids of the replaced image's workers still draining. */
    oldWorkers: number[];
    /** The last refused attempt and why, or null. */
    refused: { attempt: number; reason: string } | null;
  };
}

/** The running master, returned by `init()`. */
export declare class MasterHandle extends EventEmitter<MasterEvents> {
  /** Same as SIGHUP: fork a new generation and retire the old one. */
  reload(): void;
  /** Same as SIGTERM: stop every worker, then exit the master. */
  stop(): void;
  /**
   * Keep `workers` slots (1-1024): new slots fork, removed ones retire with the drain; the
   * `scale` event follows once it is over. During a reload or another scale it waits, and
   * the latest count wins. Throws `ERR_INVALID_ARG_VALUE` for anything but a whole number
   * in range.
   */
  scale(workers: number): void;
  /**
   * The status now (synchronous): the same object as the control socket's `status`. Waits
   * at most 5 s for the master's driver thread, then throws `ERR_STATUS_TIMEOUT`.
   */
  status(): Status;
  /**
   * Upgrade in place: reload the app on disk, check that the Node and master-process on
   * disk can start with these settings, then replace the master's image (same pid,
   * sockets kept, old workers drained). A refusal comes as `upgrade-refused`; the new
   * image's handle emits `upgraded`.
   */
  upgrade(): void;
  /** The master's pid. */
  readonly pid: number;
  /** The control socket's path, or null without one. */
  readonly controlSocket: string | null;
  /** The workers alive now. */
  readonly workers: WorkerInfo[];
}

/**
 * Start the master in the cluster primary. A bad setting prints one line and exits 78.
 * Throws `ERR_UNSUPPORTED_PLATFORM` without POSIX signals, `ERR_NOT_PRIMARY` in a worker.
 * Calling it again returns the same handle.
 */
export declare function init(options?: Options): MasterHandle;

/**
 * In a worker: run `callback` once when this worker starts to retire (a reload, a
 * replacement, a stop), before any signal, e.g. to close each WebSocket with 1001 "going
 * away". The drain then waits for the worker's upgraded connections to close (up to the kill
 * deadline) instead of ending them. Needs the drain module (`MASTER_PROCESS_DRAIN` on, the
 * default); returns whether the callback was registered (false in the primary or without it).
 */
export declare function onRetire(callback: () => void): boolean;
