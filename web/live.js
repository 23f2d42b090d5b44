// Live auction socket: connect, resync, reconnect with backoff + jitter.
//
// Usage:
//   const live = new LiveConnection({ wsUrl, auctionId, getTicket, resync, onFrame, onState });
//   live.start(); ... live.stop();
// getTicket() resolves to a fresh connect ticket (POST /auctions/{id}/ticket): one per (re)connect, valid for
// a minute and for this auction only. The session token itself never goes into the socket's URL.
// resync() is awaited on every (re)connect before {"action":"sync"} is sent; it
// returns "ended" when the auction is over (then no further reconnects happen).

const BASE_DELAY = 500;
const MAX_DELAY = 10_000;
const IDLE_PING_MS = 30_000; // ask for a status frame if the line has been quiet
const PING_TIMEOUT_MS = 10_000; // ...and treat the socket as dead if nothing comes back

export class LiveConnection {
  constructor({ wsUrl, auctionId, getTicket, resync, onFrame, onState }) {
    this.wsUrl = wsUrl;
    this.auctionId = auctionId;
    this.getTicket = getTicket;
    this.resync = resync;
    this.onFrame = onFrame;
    this.onState = onState;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.watchdog = null;
    this.stopped = false;
    this.finished = false; // auction ended: never reconnect
    this.lastFrameAt = 0;
    this.pingSentAt = 0;
    this.state = "idle";
    this.checkFirst = false;
    this._onOnline = () => this._reconnectSoon();
    this._onVisible = () => {
      if (document.visibilityState === "visible") this._reconnectSoon();
    };
  }

  start() {
    window.addEventListener("online", this._onOnline);
    document.addEventListener("visibilitychange", this._onVisible);
    this._setState("connecting");
    this._open();
  }

  /** Stop for good (navigation away). */
  stop() {
    this.stopped = true;
    this._teardown();
    window.removeEventListener("online", this._onOnline);
    document.removeEventListener("visibilitychange", this._onVisible);
  }

  /** The auction is over: close and never reconnect. */
  finish() {
    this.finished = true;
    this._teardown();
    this._setState("ended");
  }

  _teardown() {
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    this.timer = null;
    this.watchdog = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000, "bye");
      } catch {
        /* ignore */
      }
    }
  }

  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.onState?.(s);
  }

  _url(ticket) {
    const sep = this.wsUrl.includes("?") ? "&" : "?";
    return `${this.wsUrl}${sep}auctionId=${encodeURIComponent(this.auctionId)}&ticket=${encodeURIComponent(ticket || "")}`;
  }

  async _open() {
    if (this.stopped || this.finished) return;
    let ticket;
    try {
      ticket = await this.getTicket();
    } catch {
      ticket = null;
    }
    if (this.stopped || this.finished || this.ws) return;
    if (!ticket) {
      this.checkFirst = true;
      this._scheduleReconnect();
      return;
    }
    let ws;
    try {
      ws = new WebSocket(this._url(ticket));
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    let opened = false;

    ws.onopen = async () => {
      opened = true;
      this.lastFrameAt = Date.now();
      let outcome;
      try {
        outcome = await this.resync();
      } catch {
        outcome = null; // HTTP hiccup: the socket's own sync still brings us up to date
      }
      if (this.ws !== ws) return;
      if (outcome === "ended") {
        this.finish();
        return;
      }
      this._send({ action: "sync" });
      this._startWatchdog();
    };

    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      this.pingSentAt = 0;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      // A real frame arrived: the connection is healthy, reset the backoff.
      this.attempt = 0;
      if (this.state !== "live" && !this.finished) this._setState("live");
      this.onFrame?.(frame);
    };

    ws.onerror = () => {
      /* onclose follows */
    };

    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.watchdog);
      this.watchdog = null;
      if (this.stopped || this.finished) return;
      // Refused handshake (never opened): check over HTTP before the next try,
      // since the usual reason is that the auction has ended.
      this.checkFirst = !opened;
      this._scheduleReconnect();
    };
  }

  _send(obj) {
    try {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
    } catch {
      /* ignore */
    }
  }

  _startWatchdog() {
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      const now = Date.now();
      if (this.pingSentAt && now - this.pingSentAt > PING_TIMEOUT_MS) {
        // No answer to our sync: the socket is silently dead.
        const ws = this.ws;
        this.ws = null;
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        try {
          ws.close();
        } catch {
          /* ignore */
        }
        this.pingSentAt = 0;
        this.checkFirst = false;
        this._scheduleReconnect();
      } else if (!this.pingSentAt && now - this.lastFrameAt > IDLE_PING_MS) {
        this.pingSentAt = now;
        this._send({ action: "sync" });
      }
    }, 1000);
  }

  _delay() {
    const exp = Math.min(MAX_DELAY, BASE_DELAY * 2 ** this.attempt);
    this.attempt += 1;
    return Math.round(exp / 2 + Math.random() * (exp / 2)); // "equal jitter"
  }

  _scheduleReconnect(delay = this._delay()) {
    if (this.stopped || this.finished) return;
    this._setState("reconnecting");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._retry(), delay);
  }

  /** Before reopening, ask HTTP whether the auction is still running. */
  async _retry() {
    this.timer = null;
    if (this.stopped || this.finished) return;
    let outcome = null;
    if (this.checkFirst) {
      try {
        outcome = await this.resync();
      } catch {
        outcome = null;
      }
    }
    if (this.stopped || this.finished) return;
    if (outcome === "ended") {
      this.finish();
      return;
    }
    this._open();
  }

  _reconnectSoon() {
    if (this.stopped || this.finished || this.ws) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.attempt = 0;
      this._scheduleReconnect(200);
    }
  }
}
