// Campfire's page script: plain JavaScript, no framework, no build step.
//
// Pages are rendered by the server and work without this script; it adds
// the live parts. Message markup always comes from the server's "message"
// template (in the page, in WebSocket events, and from the messages API
// with ?html=1), so this file never builds a message itself, except the
// optimistic bubble shown while a post is on its way.

const body = document.body;
const me = Number(body.dataset.userId || 0);

// ---------------------------------------------------------------- helpers

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// api calls the JSON API with the session cookie. X-Requested-With tells
// the server the request comes from our own pages (see
// docs/decisions/0003-csrf.md); a cross-site page cannot send it.
async function api(method, path, data) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { "X-Requested-With": "campfire", Accept: "application/json" },
  };
  if (data !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(data);
  }
  const resp = await fetch(path, init);
  if (resp.status === 401) {
    location.assign("/session/new?return_to=" + encodeURIComponent(location.pathname));
    throw new Error("Signed out.");
  }
  if (resp.status === 204) return null;
  const json = await resp.json().catch(() => null);
  if (!resp.ok) {
    const err = new Error((json && json.error && json.error.message) || resp.statusText);
    err.status = resp.status;
    throw err;
  }
  return json;
}

// fragments parses server-rendered HTML into elements.
function fragments(html) {
  const t = document.createElement("template");
  t.innerHTML = html;
  return Array.from(t.content.children);
}

function randomID() {
  const a = new Uint8Array(12);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(36).padStart(2, "0")).join("").slice(0, 20);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

// localizeTimes shows <time datetime> in the viewer's time zone: the time
// for today, the date and time otherwise, and the full date as a tooltip.
function localizeTimes(root) {
  const today = new Date().toDateString();
  for (const t of $$("time[datetime]", root)) {
    const d = new Date(t.getAttribute("datetime"));
    if (isNaN(d)) continue;
    t.textContent = d.toDateString() === today ? timeFormat.format(d) : dayFormat.format(d) + ", " + timeFormat.format(d);
    t.title = dateTimeFormat.format(d);
  }
}

// decorate adds the viewer-specific classes the user-agnostic markup
// leaves out: own messages and boosts, mentions of the viewer.
function decorate(el) {
  if (!el.classList || !el.classList.contains("message")) return;
  el.classList.toggle("message--mine", Number(el.dataset.creatorId) === me);
  const mentions = (el.dataset.mentionIds || "").split(" ").map(Number);
  el.classList.toggle("message--mentioned", mentions.includes(me));
  for (const b of $$(".boost-item", el)) decorateBoost(b);
  localizeTimes(el);
}

function decorateBoost(b) {
  b.classList.toggle("boost-item--mine", Number(b.dataset.boosterId) === me);
}

// ------------------------------------------------------------ page bits

// The sidebar slides in on small screens.
function setupSidebarToggle() {
  const close = () => {
    body.classList.remove("sidebar-open");
    for (const b of $$(".sidebar-toggle")) b.setAttribute("aria-expanded", "false");
    const bd = $("#backdrop");
    if (bd) bd.hidden = true;
  };
  for (const b of $$(".sidebar-toggle")) {
    b.addEventListener("click", () => {
      const open = !body.classList.contains("sidebar-open");
      body.classList.toggle("sidebar-open", open);
      b.setAttribute("aria-expanded", String(open));
      const bd = $("#backdrop");
      if (bd) bd.hidden = !open;
    });
  }
  const bd = $("#backdrop");
  if (bd) bd.addEventListener("click", close);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") close();
  });
}

// Forms with data-confirm ask first.
function setupConfirm() {
  document.addEventListener("submit", (e) => {
    const msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !confirm(msg)) e.preventDefault();
  });
}

// Inputs with data-filter hide the items whose data-name does not match.
function setupFilters() {
  for (const input of $$("input[data-filter]")) {
    input.addEventListener("input", () => {
      const q = input.value.trim().toLowerCase();
      for (const item of $$(input.dataset.filter)) {
        item.hidden = q !== "" && !(item.dataset.name || "").toLowerCase().includes(q);
      }
    });
  }
}

// The member list of a room form shows only for closed rooms.
function setupRoomForms() {
  const form = $("#room-form");
  const members = $("#members");
  if (!form || !members) return;
  const sync = () => {
    const type = form.querySelector("input[name=type]:checked");
    members.hidden = !type || type.value !== "closed";
  };
  form.addEventListener("change", sync);
  sync();
}

function setupCopyButtons() {
  for (const b of $$("button[data-copy]")) {
    b.addEventListener("click", async () => {
      const input = $(b.dataset.copy);
      try {
        await navigator.clipboard.writeText(input.value);
        b.textContent = "Copied";
      } catch {
        input.select();
      }
      setTimeout(() => (b.textContent = "Copy"), 2000);
    });
  }
}

// ---------------------------------------------------------------- sidebar

const sidebar = {
  el: $("#sidebar"),
  currentID: Number(($("#chat") || {}).dataset?.roomId || 0),

  roomIDs() {
    return $$(".room[data-room-id]", this.el).map((li) => Number(li.dataset.roomId));
  },

  setUnread(roomID, unread) {
    const li = this.el && $(`.room[data-room-id="${roomID}"]`, this.el);
    if (li) li.classList.toggle("unread", unread && roomID !== this.currentID);
    this.badge();
  },

  // badge marks the small screens' sidebar toggle when a room is unread.
  badge() {
    const any = Boolean(this.el && $(".room.unread", this.el));
    for (const b of $$(".sidebar-toggle")) b.classList.toggle("unread", any);
  },

  // reload fetches the sidebar again (rooms created, renamed, deleted,
  // memberships changed, or missed while offline) and keeps the
  // WebSocket subscriptions in step with it.
  async reload() {
    if (!this.el) return;
    const before = new Set(this.roomIDs());
    const resp = await fetch("/sidebar?room=" + this.currentID, { credentials: "same-origin" });
    if (!resp.ok) return;
    this.el.innerHTML = await resp.text();
    this.badge();
    const after = new Set(this.roomIDs());
    for (const id of after) if (!before.has(id)) live.subscribe(id);
    for (const id of before) if (!after.has(id) && id !== this.currentID) live.unsubscribe(id);
  },
};

// ------------------------------------------------------------------- live

// live is the WebSocket connection (docs/live-protocol.md): it subscribes
// to every room in the sidebar, reconnects with backoff, and notices a
// dead connection with its own pings.
const live = {
  ws: null,
  attempt: 0,
  connectedOnce: false,
  handlers: {},
  subscribed: new Set(),
  lastFrame: 0,

  on(type, fn) {
    this.handlers[type] = fn;
  },

  open() {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  },

  send(frame) {
    if (this.open()) this.ws.send(JSON.stringify(frame));
  },

  subscribe(roomID) {
    this.subscribed.add(roomID);
    this.send({ type: "subscribe", room_id: roomID });
  },

  unsubscribe(roomID) {
    this.subscribed.delete(roomID);
    this.send({ type: "unsubscribe", room_id: roomID });
  },

  connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.lastFrame = Date.now();
      for (const id of this.subscribed) ws.send(JSON.stringify({ type: "subscribe", room_id: id }));
      const reconnected = this.connectedOnce;
      this.connectedOnce = true;
      if (this.handlers.open) this.handlers.open(reconnected);
    });
    ws.addEventListener("message", (e) => {
      this.lastFrame = Date.now();
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      const fn = this.handlers[frame.type];
      if (fn) fn(frame);
    });
    ws.addEventListener("close", (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === 4001) {
        location.assign("/session/new"); // the session ended
        return;
      }
      // Backoff with jitter: 0.5 s, 1 s, 2 s … up to 30 s.
      const delay = Math.min(30000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt++;
      setTimeout(() => this.connect(), delay);
    });
  },

  start(roomIDs) {
    for (const id of roomIDs) this.subscribed.add(id);
    this.connect();
    // Ping every 25 s; a connection silent for 40 s is dead: close it
    // and reconnect.
    setInterval(() => {
      if (!this.open()) return;
      if (Date.now() - this.lastFrame > 40000) {
        this.ws.close();
        return;
      }
      this.send({ type: "ping" });
    }, 25000);
    // Coming back online or to the tab: reconnect at once.
    window.addEventListener("online", () => {
      if (!this.ws) this.connect();
    });
  },
};

live.on("unread", (f) => {
  if (f.room_id === sidebar.currentID && document.visibilityState === "visible") {
    room && room.markRead();
  } else {
    sidebar.setUnread(f.room_id, true);
  }
});
live.on("read", (f) => sidebar.setUnread(f.room_id, false));
for (const type of ["room_created", "room_updated"]) live.on(type, () => sidebar.reload());
live.on("room_deleted", (f) => {
  sidebar.reload();
  if (room && f.room_id === room.id) room.gone("This room was deleted.");
});
live.on("membership_removed", (f) => {
  sidebar.reload();
  if (room && f.room_id === room.id) room.gone("You are no longer in this room.");
});
live.on("error", (f) => console.warn("campfire:", f.code, f.message, f.room_id || ""));

// ------------------------------------------------------------------- room

// Room is the open chat room: message list, composer, live updates.
class Room {
  constructor(main) {
    this.main = main;
    this.id = Number(main.dataset.roomId);
    this.list = $("#messages");
    this.composer = $("#composer");
    this.textarea = $("#composer-body");
    this.hasOlder = main.dataset.hasOlder === "true";
    this.hasNewer = main.dataset.hasNewer === "true";
    this.loading = false;
    this.typists = new Map(); // user id → {name, timer}
    this.lastTypingSent = 0;
    this.members = null;

    for (const el of $$(".message", this.list)) decorate(el);
    this.thread();
    this.setupScroll();
    this.setupComposer();
    this.setupActions();
    this.setupMentions();
    this.setupInvolvement();

    const hl = Number(main.dataset.highlightId || 0);
    const target = hl && document.getElementById("message_" + hl);
    if (target) {
      target.classList.add("message--highlight");
      target.scrollIntoView({ block: "center" });
    } else {
      this.scrollToBottom();
    }
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.markRead();
    });
  }

  // ---- the message list

  messages() {
    return $$("article.message:not(.message--pending)", this.list);
  }

  firstID() {
    const m = this.messages()[0];
    return m ? Number(m.dataset.messageId) : 0;
  }

  lastID() {
    let max = 0;
    for (const m of this.messages()) max = Math.max(max, Number(m.dataset.messageId));
    return max;
  }

  nearBottom() {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 100;
  }

  scrollToBottom() {
    this.list.scrollTop = this.list.scrollHeight;
    $("#jump").hidden = true;
  }

  // upsert puts a server-rendered message in its place: it replaces the
  // same message (if not newer), or the optimistic bubble with its
  // client_id, or goes in id order. A message is never shown twice.
  upsert(el) {
    decorate(el);
    const id = Number(el.dataset.messageId);
    const existing = document.getElementById("message_" + id);
    if (existing) {
      if (existing.classList.contains("message--pending") || el.dataset.updatedAt >= (existing.dataset.updatedAt || "")) {
        existing.replaceWith(el);
      }
      return;
    }
    const pending = this.pendingFor(el.dataset.clientId);
    if (pending) {
      pending.replaceWith(el);
      return;
    }
    const next = this.messages().find((m) => Number(m.dataset.messageId) > id) || $(".message--pending", this.list);
    this.list.insertBefore(el, next || null);
  }

  pendingFor(clientID) {
    if (!clientID) return null;
    return $$(".message--pending", this.list).find((m) => m.dataset.clientId === clientID) || null;
  }

  // insertHTML upserts the messages of a server-rendered fragment list,
  // keeping the view at the bottom when it was there.
  insertHTML(html, { keepBottom = true } = {}) {
    const stick = keepBottom && this.nearBottom();
    for (const el of fragments(html)) if (el.matches("article.message")) this.upsert(el);
    this.thread();
    if (stick) this.scrollToBottom();
  }

  // thread hides the name and avatar of a message that follows one by the
  // same person within five minutes.
  thread() {
    let prev = null;
    for (const m of $$("article.message", this.list)) {
      const t = Date.parse(m.dataset.createdAt || "") || Date.now();
      const same = prev && prev.creator === m.dataset.creatorId && t - prev.time < 5 * 60 * 1000;
      m.classList.toggle("message--threaded", Boolean(same));
      prev = { creator: m.dataset.creatorId, time: t };
    }
  }

  // fetchPage loads a page of messages with their fragments.
  async fetchPage(query) {
    return api("GET", `/api/rooms/${this.id}/messages?html=1&${query}`);
  }

  // catchUp loads every message after the newest one shown, after a
  // reconnect, until a page comes back short.
  async catchUp() {
    if (this.hasNewer || this.catchingUp) return;
    this.catchingUp = true;
    try {
      for (;;) {
        const limit = 100;
        const page = await this.fetchPage(`after=${this.lastID()}&limit=${limit}`);
        if (page.messages.length) this.insertHTML(page.html);
        if (page.messages.length < limit) break;
      }
    } catch (err) {
      console.warn("campfire: catch up:", err);
    } finally {
      this.catchingUp = false;
    }
  }

  // refresh reloads one message's fragment, when the live event that
  // would carry it may not come (the socket is down).
  async refresh(id) {
    try {
      const page = await this.fetchPage(`after=${id - 1}&limit=1`);
      if (page.messages.length && page.messages[0].id === id) this.insertHTML(page.html);
    } catch (err) {
      console.warn("campfire: refresh:", err);
    }
  }

  setupScroll() {
    this.list.addEventListener("scroll", () => {
      if (this.nearBottom()) $("#jump").hidden = true;
      if (this.list.scrollTop < 300) this.loadOlder();
      if (this.hasNewer && this.nearBottom()) this.loadNewer();
    });
    $("#jump").addEventListener("click", () => {
      if (this.hasNewer) location.assign("/rooms/" + this.id);
      else this.scrollToBottom();
    });
  }

  // loadOlder is the infinite scroll upward.
  async loadOlder() {
    if (!this.hasOlder || this.loading) return;
    this.loading = true;
    this.list.classList.add("loading");
    try {
      const page = await this.fetchPage(`before=${this.firstID()}&limit=40`);
      const height = this.list.scrollHeight;
      const top = this.list.scrollTop;
      for (const el of fragments(page.html)) if (el.matches("article.message")) this.upsert(el);
      this.thread();
      this.list.scrollTop = top + (this.list.scrollHeight - height);
      if (page.messages.length < 40) {
        this.hasOlder = false;
        $(".messages__start", this.list).hidden = false;
      }
    } catch (err) {
      console.warn("campfire: load older:", err);
    } finally {
      this.loading = false;
      this.list.classList.remove("loading");
    }
  }

  // loadNewer continues a permalink page towards the newest message.
  async loadNewer() {
    if (this.loading) return;
    this.loading = true;
    try {
      const page = await this.fetchPage(`after=${this.lastID()}&limit=40`);
      this.insertHTML(page.html, { keepBottom: false });
      if (page.messages.length < 40) this.hasNewer = false;
    } catch (err) {
      console.warn("campfire: load newer:", err);
    } finally {
      this.loading = false;
    }
  }

  // ---- live events for this room

  onCreated(f) {
    if (this.hasNewer) return; // the reader is in the past; scrolling brings it
    const mine = f.message.creator_id === me;
    const stick = mine || this.nearBottom();
    this.insertHTML(f.html, { keepBottom: false });
    if (stick) this.scrollToBottom();
    else $("#jump").hidden = false;
    if (!mine && document.visibilityState === "visible") this.markRead();
    this.typing({ user: { id: f.message.creator_id }, action: "stop" });
  }

  onUpdated(f) {
    if (document.getElementById("message_" + f.message.id)) this.insertHTML(f.html);
  }

  onDeleted(f) {
    const el = document.getElementById("message_" + f.message_id) || this.pendingFor(f.client_id);
    if (el) el.remove();
    this.thread();
  }

  onBoostAdded(f) {
    if (document.getElementById("boost_" + f.boost.id)) return;
    const list = document.getElementById("boosts_" + f.message_id);
    if (!list) return;
    const stick = this.nearBottom();
    for (const el of fragments(f.html)) {
      decorateBoost(el);
      list.append(el);
    }
    if (stick) this.scrollToBottom();
  }

  onBoostRemoved(f) {
    const el = document.getElementById("boost_" + f.boost_id);
    if (el) el.remove();
  }

  // markRead clears this room's unread marker (debounced).
  markRead() {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => live.send({ type: "read", room_id: this.id }), 300);
  }

  gone(text) {
    const note = $("#room-gone");
    note.textContent = text;
    note.hidden = false;
    this.composer.classList.add("disabled");
    this.textarea.disabled = true;
  }

  // ---- typing indicator

  typing(f) {
    if (f.user.id === me) return;
    const t = this.typists.get(f.user.id);
    if (t) clearTimeout(t.timer);
    if (f.action === "start") {
      const timer = setTimeout(() => {
        this.typists.delete(f.user.id);
        this.renderTyping();
      }, 5000);
      this.typists.set(f.user.id, { name: f.user.name, timer });
    } else {
      this.typists.delete(f.user.id);
    }
    this.renderTyping();
  }

  renderTyping() {
    const names = Array.from(this.typists.values(), (t) => t.name).sort();
    const el = $("#typing");
    if (names.length === 0) el.textContent = "";
    else if (names.length === 1) el.textContent = `${names[0]} is typing…`;
    else if (names.length <= 3) el.textContent = `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
    else el.textContent = "Several people are typing…";
  }

  sendTyping(action) {
    if (action === "start") {
      if (Date.now() - this.lastTypingSent < 2000) return;
      this.lastTypingSent = Date.now();
    } else {
      if (!this.lastTypingSent) return;
      this.lastTypingSent = 0;
    }
    live.send({ type: "typing", room_id: this.id, action });
  }

  // ---- composer

  setupComposer() {
    const ta = this.textarea;
    const grow = () => {
      ta.style.height = "auto";
      ta.style.height = Math.min(ta.scrollHeight + 2, 192) + "px";
    };
    ta.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !this.mentionOpen()) {
        e.preventDefault();
        this.enterSent = true;
        this.submit();
      } else if (e.key === "ArrowUp" && ta.value === "") {
        const mine = this.messages().filter((m) => m.classList.contains("message--mine") && !m.classList.contains("message--sound"));
        if (mine.length) {
          e.preventDefault();
          this.edit(mine.at(-1));
        }
      }
    });
    // Some input methods (and synthesized key events) deliver Enter's
    // line break separately from its keydown; drop it after a send.
    ta.addEventListener("beforeinput", (e) => {
      if (this.enterSent && (e.inputType === "insertLineBreak" || e.inputType === "insertParagraph" || e.data === "\r" || e.data === "\n")) {
        e.preventDefault();
      }
    });
    ta.addEventListener("keyup", () => (this.enterSent = false));
    ta.addEventListener("input", () => {
      grow();
      this.sendTyping(ta.value.trim() ? "start" : "stop");
    });
    this.composer.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    ta.focus();
  }

  submit() {
    const text = this.textarea.value;
    if (!text.trim()) return;
    const clientID = randomID();
    this.textarea.value = "";
    this.textarea.style.height = "";
    this.sendTyping("stop");
    this.showPending(clientID, text);
    this.post(clientID, text);
  }

  // showPending adds the optimistic bubble, keyed by client_id, that the
  // server's message replaces.
  showPending(clientID, text) {
    const el = document.createElement("article");
    el.className = "message message--pending message--mine";
    el.dataset.clientId = clientID;
    el.dataset.creatorId = String(me);
    el.dataset.createdAt = new Date().toISOString();
    el.setAttribute("aria-busy", "true");
    const avatar = document.createElement("span");
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    const main = document.createElement("div");
    main.className = "message__main";
    const meta = document.createElement("header");
    meta.className = "message__meta";
    const author = document.createElement("span");
    author.className = "message__author";
    author.textContent = body.dataset.userName || "";
    meta.append(author);
    const content = document.createElement("div");
    content.className = "message__body";
    const p = document.createElement("p");
    p.textContent = text;
    p.style.whiteSpace = "pre-wrap";
    content.append(p);
    main.append(meta, content);
    el.append(avatar, main);
    el._text = text;
    this.list.append(el);
    this.thread();
    this.scrollToBottom();
  }

  async post(clientID, text) {
    try {
      const msg = await api("POST", `/api/rooms/${this.id}/messages`, { body: text, client_id: clientID });
      // Usually the live event came first and replaced the bubble. If not
      // (a slow or broken socket), fetch the fragment now.
      if (this.pendingFor(clientID)) this.refresh(msg.id);
    } catch (err) {
      const el = this.pendingFor(clientID);
      if (!el) return;
      el.classList.add("message--failed");
      el.removeAttribute("aria-busy");
      let status = $(".message__status", el);
      if (!status) {
        status = document.createElement("p");
        status.className = "message__status";
        $(".message__main", el).append(status);
      }
      status.textContent = "Not sent: " + err.message + " ";
      if (err.status === undefined || err.status >= 500 || err.status === 429) {
        // Retrying with the same client_id cannot post twice.
        const retry = document.createElement("button");
        retry.type = "button";
        retry.textContent = "Retry";
        retry.addEventListener("click", () => {
          el.classList.remove("message--failed");
          status.remove();
          this.post(clientID, text);
        });
        status.append(retry);
      }
      const dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.textContent = "Dismiss";
      dismiss.addEventListener("click", () => el.remove());
      status.append(dismiss);
    }
  }

  // ---- message actions: boost, edit, delete

  setupActions() {
    this.list.addEventListener("click", (e) => {
      const button = e.target.closest("button");
      const article = e.target.closest("article.message");
      if (!article) return;
      if (!button) {
        // On touch screens a tap shows the actions.
        for (const m of $$(".message.actions-open", this.list)) if (m !== article) m.classList.remove("actions-open");
        article.classList.add("actions-open");
        return;
      }
      const id = Number(article.dataset.messageId);
      if (button.classList.contains("edit")) this.edit(article);
      else if (button.classList.contains("delete")) this.remove(article, id);
      else if (button.classList.contains("boost")) this.toggleBoostPicker(article, id);
      else if (button.classList.contains("unboost")) this.unboost(button.closest(".boost-item"));
    });
  }

  async remove(article, id) {
    if (!confirm("Delete this message?")) return;
    try {
      await api("DELETE", `/api/messages/${id}`);
      article.remove();
      this.thread();
    } catch (err) {
      alert("Could not delete the message: " + err.message);
    }
  }

  async edit(article) {
    const id = Number(article.dataset.messageId);
    if (!id || $(".edit-form", article)) return;
    let msg;
    try {
      msg = await api("GET", `/api/messages/${id}`);
    } catch (err) {
      alert("Could not edit the message: " + err.message);
      return;
    }
    const content = $(".message__body", article);
    const form = document.createElement("form");
    form.className = "edit-form";
    const label = document.createElement("label");
    label.className = "visually-hidden";
    label.htmlFor = "edit-" + id;
    label.textContent = "Edit message";
    const ta = document.createElement("textarea");
    ta.id = "edit-" + id;
    ta.name = "body";
    ta.value = msg.body;
    ta.rows = Math.min(8, msg.body.split("\n").length + 1);
    const buttons = document.createElement("div");
    buttons.className = "edit-form__buttons";
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "button button--primary button--small save";
    save.textContent = "Save";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button button--small cancel";
    cancel.textContent = "Cancel";
    buttons.append(save, cancel);
    form.append(label, ta, buttons);
    content.hidden = true;
    content.after(form);
    ta.focus();
    ta.setSelectionRange(ta.value.length, ta.value.length);

    const close = () => {
      form.remove();
      content.hidden = false;
    };
    cancel.addEventListener("click", close);
    ta.addEventListener("keydown", (e) => {
      if (e.key === "Escape") close();
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const updated = await api("PATCH", `/api/messages/${id}`, { body: ta.value });
        close();
        if (!live.open()) this.refresh(updated.id);
      } catch (err) {
        alert("Could not save the message: " + err.message);
      }
    });
  }

  toggleBoostPicker(article, id) {
    const open = $(".boost-picker", article);
    if (open) {
      open.remove();
      return;
    }
    const form = document.createElement("form");
    form.className = "boost-picker";
    for (const emoji of ["👍", "👏", "👋", "💪", "❤️", "😂", "🎉", "🔥"]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "quick";
      b.textContent = emoji;
      b.setAttribute("aria-label", "Boost with " + emoji);
      b.addEventListener("click", () => this.boost(article, id, emoji, form));
      form.append(b);
    }
    const label = document.createElement("label");
    label.className = "visually-hidden";
    label.htmlFor = "boost-" + id;
    label.textContent = "Boost text";
    const input = document.createElement("input");
    input.id = "boost-" + id;
    input.maxLength = 16;
    input.placeholder = "Boost…";
    input.autocomplete = "off";
    const ok = document.createElement("button");
    ok.type = "submit";
    ok.className = "button button--small";
    ok.textContent = "Boost";
    form.append(label, input, ok);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (input.value.trim()) this.boost(article, id, input.value.trim(), form);
    });
    form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") form.remove();
    });
    $(".message__main", article).append(form);
    input.focus();
  }

  async boost(article, id, content, picker) {
    try {
      const b = await api("POST", `/api/messages/${id}/boosts`, { content });
      picker.remove();
      if (!document.getElementById("boost_" + b.id) && !live.open()) this.refresh(id);
    } catch (err) {
      alert("Could not boost: " + err.message);
    }
  }

  async unboost(item) {
    try {
      await api("DELETE", `/api/boosts/${item.dataset.boostId}`);
      item.remove();
    } catch (err) {
      alert("Could not remove the boost: " + err.message);
    }
  }

  // ---- @mention autocomplete of the room's members

  setupMentions() {
    this.mentionList = $("#mention-list");
    this.mentionIndex = 0;
    this.textarea.addEventListener("input", () => this.updateMentions());
    this.textarea.addEventListener("keydown", (e) => {
      if (!this.mentionOpen()) return;
      const items = $$("li", this.mentionList);
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        this.mentionIndex = (this.mentionIndex + (e.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
        this.highlightMention();
      } else if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        this.chooseMention(items[this.mentionIndex].dataset.name);
      } else if (e.key === "Escape") {
        this.mentionList.hidden = true;
      }
    });
    this.mentionList.addEventListener("mousedown", (e) => {
      const li = e.target.closest("li");
      if (!li) return;
      e.preventDefault();
      this.chooseMention(li.dataset.name);
    });
    this.textarea.addEventListener("blur", () => setTimeout(() => (this.mentionList.hidden = true), 150));
  }

  mentionOpen() {
    return this.mentionList && !this.mentionList.hidden;
  }

  // mentionQuery is the "@name" being typed before the caret, if any.
  mentionQuery() {
    const ta = this.textarea;
    const before = ta.value.slice(0, ta.selectionStart);
    const m = before.match(/(?:^|\s)@([^@\n]{0,30})$/);
    return m ? m[1] : null;
  }

  async updateMentions() {
    if (this.mentionQuery() === null) {
      this.mentionList.hidden = true;
      return;
    }
    // The room's members are loaded once, at the first "@".
    this.members ??= api("GET", `/api/rooms/${this.id}/members`)
      .then((res) => res.users.filter((u) => u.id !== me))
      .catch((err) => {
        console.warn("campfire: members:", err);
        this.members = null;
        return [];
      });
    const members = await this.members;
    // The text may have changed while the members loaded.
    const q = this.mentionQuery();
    if (q === null) {
      this.mentionList.hidden = true;
      return;
    }
    const needle = q.toLowerCase();
    const found = members
      .filter((u) => u.name.toLowerCase().startsWith(needle) || u.name.toLowerCase().includes(" " + needle))
      .slice(0, 8);
    this.mentionList.replaceChildren(
      ...found.map((u, i) => {
        const li = document.createElement("li");
        li.id = "mention-" + u.id;
        li.setAttribute("role", "option");
        li.dataset.name = u.name;
        li.textContent = u.name;
        return li;
      }),
    );
    this.mentionList.hidden = found.length === 0;
    this.mentionIndex = 0;
    this.highlightMention();
  }

  highlightMention() {
    $$("li", this.mentionList).forEach((li, i) => {
      li.setAttribute("aria-selected", String(i === this.mentionIndex));
      if (i === this.mentionIndex) this.textarea.setAttribute("aria-activedescendant", li.id);
    });
  }

  chooseMention(name) {
    const ta = this.textarea;
    const q = this.mentionQuery();
    if (q === null) return;
    const start = ta.selectionStart - q.length - 1;
    ta.value = ta.value.slice(0, start) + "@" + name + " " + ta.value.slice(ta.selectionStart);
    const caret = start + name.length + 2;
    ta.setSelectionRange(caret, caret);
    this.mentionList.hidden = true;
    ta.removeAttribute("aria-activedescendant");
    ta.focus();
  }

  // ---- involvement (notifications) menu

  setupInvolvement() {
    const select = $("#involvement");
    if (!select) return;
    let previous = select.value;
    select.addEventListener("change", async () => {
      try {
        await api("PUT", `/api/rooms/${this.id}/involvement`, { involvement: select.value });
        previous = select.value;
        sidebar.reload();
      } catch (err) {
        select.value = previous;
        alert("Could not change notifications: " + err.message);
      }
    });
  }
}

// ------------------------------------------------------------------ start

let room = null;

function start() {
  setupSidebarToggle();
  setupConfirm();
  setupFilters();
  setupRoomForms();
  setupCopyButtons();
  localizeTimes(document);
  for (const el of $$("article.message")) decorate(el);
  sidebar.badge();

  const main = $("#chat[data-room-id]");
  if (main) {
    room = new Room(main);
    live.on("message_created", (f) => f.room_id === room.id && room.onCreated(f));
    live.on("message_updated", (f) => f.room_id === room.id && room.onUpdated(f));
    live.on("message_deleted", (f) => f.room_id === room.id && room.onDeleted(f));
    live.on("boost_added", (f) => f.room_id === room.id && room.onBoostAdded(f));
    live.on("boost_removed", (f) => f.room_id === room.id && room.onBoostRemoved(f));
    live.on("typing", (f) => f.room_id === room.id && room.typing(f));
    live.on("subscribed", (f) => {
      if (f.room_id !== room.id) return;
      // Whatever was posted since the page was rendered, or while the
      // socket was down, comes now, each message once.
      room.catchUp();
      if (document.visibilityState === "visible") room.markRead();
    });
  }
  if (me && sidebar.el) {
    // On every (re)connection: fresh rooms and unread markers, including
    // changes between rendering the page and connecting.
    live.on("open", () => sidebar.reload());
    const ids = new Set(sidebar.roomIDs());
    if (room) ids.add(room.id);
    live.start(ids);
  }
  // A handle for debugging and browser tests.
  window.campfire = { live, sidebar, room };
}

start();
