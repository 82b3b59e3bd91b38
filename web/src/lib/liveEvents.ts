// The live event stream (GET /api/v1/events) with reconnection. EventSource retries a dropped connection by itself
// (sending Last-Event-ID); when the server refused the stream or ended it for good, EventSource gives up, and this
// opens a new one after a growing pause, naming the last event seen so nothing in between is lost.

export interface LiveMessage {
  type: string;
  data: Record<string, unknown>;
}

/** What an EventSource looks like to this module (a fake one in the unit tests). */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onerror: ((event: Event) => void) | null;
  addEventListener(type: string, listener: (event: MessageEvent) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

export const EVENT_TYPES = [
  "conversation.changed",
  "lead.changed",
  "task.changed",
  "enrollment.changed",
  "notification.created",
  "reset",
] as const;

const CLOSED = 2;

export interface LiveOptions {
  url: string;
  onMessage: (message: LiveMessage) => void;
  /** Called on every (re)connection: refetch what may have changed while disconnected. */
  onOpen?: () => void;
  /** Called when a reconnection is scheduled; the app checks its session then. */
  onGiveUp?: () => void;
  create?: EventSourceFactory;
  schedule?: (run: () => void, ms: number) => unknown;
  cancel?: (handle: unknown) => void;
}

/** Pause before reconnection attempt `attempt` (0-based): 1 s doubling up to 30 s. */
export function backoff(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** attempt);
}

export function streamUrl(base: string, lastEventId: string | null): string {
  if (!lastEventId) return base;
  const separator = base.includes("?") ? "&" : "?";
  return `${base}${separator}last_event_id=${encodeURIComponent(lastEventId)}`;
}

export class LiveConnection {
  private source: EventSourceLike | null = null;
  private lastEventId: string | null = null;
  private attempt = 0;
  private timer: unknown = null;
  private stopped = false;
  private readonly options: Required<Omit<LiveOptions, "onOpen" | "onGiveUp">> &
    Pick<LiveOptions, "onOpen" | "onGiveUp">;

  constructor(options: LiveOptions) {
    this.options = {
      create: (url) => new EventSource(url, { withCredentials: true }),
      schedule: (run, ms) => setTimeout(run, ms),
      cancel: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      ...options,
    };
  }

  get lastId(): string | null {
    return this.lastEventId;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.options.cancel(this.timer);
    this.timer = null;
    this.source?.close();
    this.source = null;
  }

  private open(): void {
    const source = this.options.create(streamUrl(this.options.url, this.lastEventId));
    this.source = source;
    source.onopen = () => {
      this.attempt = 0;
      this.options.onOpen?.();
    };
    source.onerror = () => {
      if (source.readyState !== CLOSED || this.stopped) return; // EventSource is retrying by itself
      source.close();
      this.options.onGiveUp?.();
      this.timer = this.options.schedule(() => {
        this.timer = null;
        if (!this.stopped) this.open();
      }, backoff(this.attempt++));
    };
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (event: MessageEvent) => {
        if (event.lastEventId) this.lastEventId = event.lastEventId;
        let data: Record<string, unknown> = {};
        try {
          data = JSON.parse(String(event.data)) as Record<string, unknown>;
        } catch {
          // a malformed payload still says "something of this type changed"
        }
        this.options.onMessage({ type, data });
      });
    }
  }
}
