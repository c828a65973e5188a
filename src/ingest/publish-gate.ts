/** How long after its last publish an app still counts as publishing, for other apps' share. */
const ACTIVE_FOR_MS = 1_000;
/**
 * Bytes of one app's publishes in progress at once while another app publishes (about 40 events),
 * or one publish of any size.
 */
const SHARED_BYTES = 64 * 1024;
/** How often held publishes are looked at again, in case the other apps have fallen quiet. */
const RECHECK_MS = ACTIVE_FOR_MS / 4;

interface Waiting {
  bytes: number;
  start(): void;
}

interface AppTurns {
  running: number;
  bytes: number;
  waiting: Waiting[];
  lastEndedAt: number;
}

const isActive = (turns: AppTurns, now: number): boolean =>
  turns.running > 0 || turns.waiting.length > 0 || turns.lastEndedAt >= now - ACTIVE_FOR_MS;

/** One publish's place at the gate. */
export interface GateTurn {
  /** Resolves when the publish may go on. */
  admitted: Promise<void>;
  /** Ends the publish, or takes it out of line if it still waits (its client hung up). Once is enough. */
  end(): void;
}

/**
 * Admits each app's publishes before their bodies are read, so that one app's flood of big batches
 * cannot hold another app's events behind all of its own.
 * - Alone, an app's publishes all go on at once.
 * - While another app publishes too (or did within ACTIVE_FOR_MS), an app has at most SHARED_BYTES
 *   of publishes in progress, or one publish of any size. Small publishes hardly wait; a flooder's
 *   big batches are read, parsed and committed one at a time, with the others' publishes in between.
 * A publish held here has not had its upload read: Node stops reading a socket once the request's
 * buffer is full, so the flooding client waits in TCP and costs nothing. An app's publishes start
 * in the order they arrived.
 */
export class PublishGate {
  readonly #apps = new Map<string, AppTurns>();
  #sweptAt = 0;
  #recheck: NodeJS.Timeout | undefined;

  constructor(
    /** Called with +1 when a publish starts waiting, -1 when it stops. */
    private readonly onWaiting: (change: 1 | -1) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** A publish of `bytes` (its Content-Length) to `appId`. */
  enter(appId: string, bytes: number): GateTurn {
    this.#sweep();
    const turns = this.#turnsOf(appId);
    let state: "waiting" | "running" | "ended" = "waiting";
    let start = () => {};
    const admitted = new Promise<void>((resolve) => {
      start = () => {
        state = "running";
        turns.running++;
        turns.bytes += bytes;
        resolve();
      };
    });
    const waiting: Waiting = { bytes, start };
    if (turns.waiting.length === 0 && this.#mayStart(appId, turns, bytes)) start();
    else {
      turns.waiting.push(waiting);
      this.onWaiting(1);
      this.#recheckLater();
    }
    return {
      admitted,
      end: () => {
        if (state === "ended") return;
        if (state === "waiting") {
          turns.waiting.splice(turns.waiting.indexOf(waiting), 1);
          this.onWaiting(-1);
        } else {
          turns.running--;
          turns.bytes -= bytes;
          turns.lastEndedAt = this.now();
        }
        state = "ended";
        this.#admit(appId, turns);
      },
    };
  }

  #turnsOf(appId: string): AppTurns {
    let turns = this.#apps.get(appId);
    if (!turns) {
      turns = { running: 0, bytes: 0, waiting: [], lastEndedAt: 0 };
      this.#apps.set(appId, turns);
    }
    return turns;
  }

  /** Starts the app's waiting publishes, in order, for as long as the next one may start. */
  #admit(appId: string, turns: AppTurns): void {
    while (turns.waiting.length > 0 && this.#mayStart(appId, turns, turns.waiting[0]!.bytes)) {
      this.onWaiting(-1);
      turns.waiting.shift()!.start();
    }
    if (turns.waiting.length > 0) this.#recheckLater();
  }

  /**
   * Held publishes wait for their own app's publish to end, or for the other apps to fall quiet,
   * which no call here announces: a timer looks again while any publish is held.
   */
  #recheckLater(): void {
    if (this.#recheck) return;
    this.#recheck = setTimeout(() => {
      this.#recheck = undefined;
      for (const [appId, turns] of this.#apps) if (turns.waiting.length > 0) this.#admit(appId, turns);
    }, RECHECK_MS);
    this.#recheck.unref();
  }

  #mayStart(appId: string, turns: AppTurns, bytes: number): boolean {
    if (turns.running === 0 || turns.bytes + bytes <= SHARED_BYTES) return true;
    const now = this.now();
    for (const [id, other] of this.#apps) if (id !== appId && isActive(other, now)) return false;
    return true;
  }

  /** Forgets apps that have not published lately, at most once per ACTIVE_FOR_MS. */
  #sweep(): void {
    const now = this.now();
    if (now - this.#sweptAt < ACTIVE_FOR_MS) return;
    this.#sweptAt = now;
    for (const [id, turns] of this.#apps) if (!isActive(turns, now)) this.#apps.delete(id);
  }
}
