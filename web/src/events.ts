// One shared EventSource per tab (the server limits streams per user); pages subscribe with
// useServerEvents(handler). The stream opens with the first subscriber and closes with the last.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, subscribeEvents, type ServerEvent } from './api';
import { resampleClock } from './clock';

const handlers = new Set<(e: ServerEvent) => void>();
const statusListeners = new Set<(live: boolean) => void>();
let close: (() => void) | null = null;
let live = false;
// The newest event id seen, kept for the tab (sessionStorage) so that a reload resumes after it
// instead of replaying the whole history (event ids are one sequence for all accounts).
const LAST_KEY = 'fm_last_event';
let lastId: number | undefined = (() => {
  try {
    const v = Number(sessionStorage.getItem(LAST_KEY));
    return Number.isFinite(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
})();
function rememberId(id: number) {
  if (!Number.isFinite(id) || (lastId !== undefined && id <= lastId)) return;
  lastId = id;
  try {
    sessionStorage.setItem(LAST_KEY, String(id));
  } catch {
    /* no storage */
  }
}

function setLive(v: boolean) {
  live = v;
  statusListeners.forEach((fn) => fn(v));
}

// The server replays every event after ?after= (none when the tab has seen none: after=latest).
// Events arriving in a burst right after the stream opens are that backlog: they are not delivered
// one by one; once the burst ends (a quiet gap of REPLAY_GAP ms) handlers get one event of type
// 'resync' (replay: true), on which a page reloads what it shows.
const REPLAY_GAP = 400;
let replayUntil = 0;

let resyncTimer: ReturnType<typeof setTimeout> | null = null;
function scheduleResync() {
  if (resyncTimer) clearTimeout(resyncTimer);
  resyncTimer = setTimeout(() => {
    resyncTimer = null;
    const ev: ServerEvent = { id: String(lastId ?? ''), type: 'resync', data: {}, replay: true };
    resampleClock();
    handlers.forEach((h) => h(ev));
  }, REPLAY_GAP);
}

// The browser does not retry after an HTTP error: ask who we are (a 401 leads to /login), then
// open the stream again while pages still listen.
let reopenTimer: ReturnType<typeof setTimeout> | null = null;
function scheduleReopen() {
  if (close) close();
  close = null;
  if (reopenTimer) return;
  reopenTimer = setTimeout(async () => {
    reopenTimer = null;
    if (handlers.size === 0 || close) return;
    try {
      await api('GET', '/api/v1/me');
    } catch {
      /* 401: the handler already went to /login; other errors: try again below */
    }
    if (handlers.size > 0 && !close) open();
  }, 5000);
}

function open() {
  replayUntil = Date.now() + 1500;
  close = subscribeEvents(
    (ev) => {
      if (ev.id) rememberId(Number(ev.id));
      if (ev.type === 'gate_closed' || ev.type === 'cleared') resampleClock();
      if (!live) setLive(true);
      const now = Date.now();
      if (now < replayUntil) {
        replayUntil = now + REPLAY_GAP;
        scheduleResync();
        return;
      }
      handlers.forEach((h) => h(ev));
    },
    {
      // A tab that has seen no event asks for what happens from now on: its pages have
      // just loaded their data.
      after: lastId ?? 'latest',
      onOpen: () => {
        replayUntil = Date.now() + 1500;
        setLive(true);
      },
      onError: (closed) => {
        setLive(false);
        if (closed) scheduleReopen();
      },
    },
  );
}

export function useServerEvents(handler: (e: ServerEvent) => void): boolean {
  const ref = useRef(handler);
  ref.current = handler;
  const [isLive, setIsLive] = useState(live);
  useEffect(() => {
    const h = (e: ServerEvent) => ref.current(e);
    handlers.add(h);
    statusListeners.add(setIsLive);
    if (!close) open();
    return () => {
      handlers.delete(h);
      statusListeners.delete(setIsLive);
      if (handlers.size === 0 && close) {
        close();
        close = null;
        setLive(false);
      }
    };
  }, []);
  return isLive;
}

export function closeEvents(): void {
  if (reopenTimer) clearTimeout(reopenTimer);
  reopenTimer = null;
  if (close) close();
  close = null;
  handlers.clear();
  setLive(false);
}
