import { describe, expect, it } from "vitest";
import { backoff, LiveConnection, streamUrl, type EventSourceLike, type LiveMessage } from "./liveEvents";

class FakeSource implements EventSourceLike {
  readyState = 0;
  onopen: ((event: Event) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  closed = false;
  listeners = new Map<string, (event: MessageEvent) => void>();
  constructor(readonly url: string) {}
  addEventListener(type: string, listener: (event: MessageEvent) => void): void {
    this.listeners.set(type, listener);
  }
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
  emit(type: string, id: string, data: unknown): void {
    this.listeners.get(type)?.({ lastEventId: id, data: JSON.stringify(data) } as MessageEvent);
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }
  fail(closedForGood: boolean): void {
    this.readyState = closedForGood ? 2 : 0;
    this.onerror?.(new Event("error"));
  }
}

function harness() {
  const sources: FakeSource[] = [];
  const timers: { run: () => void; ms: number }[] = [];
  const received: LiveMessage[] = [];
  let opens = 0;
  let giveUps = 0;
  const connection = new LiveConnection({
    url: "/api/v1/events",
    onMessage: (message) => received.push(message),
    onOpen: () => opens++,
    onGiveUp: () => giveUps++,
    create: (url) => {
      const source = new FakeSource(url);
      sources.push(source);
      return source;
    },
    schedule: (run, ms) => timers.push({ run, ms }),
    cancel: () => undefined,
  });
  return { connection, sources, timers, received, counts: () => ({ opens, giveUps }) };
}

describe("live event stream", () => {
  it("passes each event on and remembers the last id", () => {
    const h = harness();
    h.connection.start();
    h.sources[0]!.open();
    h.sources[0]!.emit("conversation.changed", "1700000000000-0", { lead_id: "L1" });
    expect(h.received).toEqual([{ type: "conversation.changed", data: { lead_id: "L1" } }]);
    expect(h.connection.lastId).toBe("1700000000000-0");
  });

  it("leaves a passing drop to EventSource, which resends Last-Event-ID itself", () => {
    const h = harness();
    h.connection.start();
    h.sources[0]!.fail(false);
    expect(h.sources).toHaveLength(1);
    expect(h.timers).toHaveLength(0);
  });

  it("reconnects after a growing pause from the last event seen when EventSource gives up", () => {
    const h = harness();
    h.connection.start();
    h.sources[0]!.open();
    h.sources[0]!.emit("task.changed", "5-1", {});
    h.sources[0]!.fail(true);
    expect(h.timers.map((t) => t.ms)).toEqual([1000]);
    h.timers[0]!.run();
    expect(h.sources[1]!.url).toBe("/api/v1/events?last_event_id=5-1");
    h.sources[1]!.fail(true);
    h.timers[1]!.run();
    expect(h.timers.map((t) => t.ms)).toEqual([1000, 2000]);
    h.sources[2]!.open();
    expect(h.counts()).toEqual({ opens: 2, giveUps: 2 });
    h.sources[2]!.fail(true);
    expect(h.timers[2]!.ms).toBe(1000); // a successful open starts the pauses over
  });

  it("stays closed once stopped", () => {
    const h = harness();
    h.connection.start();
    h.connection.stop();
    expect(h.sources[0]!.closed).toBe(true);
    h.sources[0]!.fail(true);
    expect(h.timers).toHaveLength(0);
  });

  it("caps the pause at 30 seconds and builds the resume URL", () => {
    expect([0, 1, 4, 5, 10].map(backoff)).toEqual([1000, 2000, 16000, 30000, 30000]);
    expect(streamUrl("/api/v1/events", null)).toBe("/api/v1/events");
    expect(streamUrl("/api/v1/events", "1-2")).toBe("/api/v1/events?last_event_id=1-2");
  });
});
