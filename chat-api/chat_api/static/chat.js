/*
 * Nova chat test UI: one WebSocket to /ws/chat, streamed answers rendered as Markdown with a typing cursor.
 * The page asks for an API key or the admin secret and sends it in the first frame; it is kept in
 * sessionStorage (gone with the tab). The session id and its transcript live in localStorage, so a reload
 * continues the same conversation. Lost connections are retried with backoff; messages typed meanwhile are
 * sent once the session is back.
 */
(function () {
  "use strict";

  var KEY_STORE = "nova.chat.credential";
  var OLD_KEY_STORE = "nova.chat.apiKey"; // kept in localStorage by earlier versions of this page
  var ASK_FOR_KEY = "Enter an API key (sk-nova-…) or the admin secret above to chat";
  var SESSION_STORE = "nova.chat.sessionId";
  var TRANSCRIPT_PREFIX = "nova.chat.transcript.";
  var CLOSE_UNAUTHORIZED = 4001;

  var els = {
    log: document.getElementById("log"),
    form: document.getElementById("composer"),
    input: document.getElementById("message"),
    status: document.getElementById("status"),
    keyForm: document.getElementById("key-form"),
    key: document.getElementById("api-key"),
    newChat: document.getElementById("new-chat"),
    session: document.getElementById("session"),
  };

  var ws = null;
  var ready = false;
  var retryDelay = 500;
  var retryTimer = null;
  var outbox = [];
  var sessionId = localStorage.getItem(SESSION_STORE) || "";
  var transcript = loadTranscript(sessionId);
  var streaming = null; // {el, text} of the answer being streamed

  function loadTranscript(id) {
    if (!id) return [];
    try {
      return JSON.parse(localStorage.getItem(TRANSCRIPT_PREFIX + id) || "[]");
    } catch (e) {
      return [];
    }
  }

  function saveTranscript() {
    if (sessionId) localStorage.setItem(TRANSCRIPT_PREFIX + sessionId, JSON.stringify(transcript.slice(-200)));
  }

  function setStatus(text, kind) {
    els.status.textContent = text;
    els.status.className = "status " + (kind || "");
  }

  function scrollDown() {
    els.log.scrollTop = els.log.scrollHeight;
  }

  function bubble(role, html) {
    var el = document.createElement("div");
    el.className = "msg " + role;
    el.innerHTML = html;
    els.log.appendChild(el);
    scrollDown();
    return el;
  }

  function renderMarkdown(text, withCursor) {
    var html = window.NovaMarkdown.render(text);
    return withCursor ? html + '<span class="cursor" aria-hidden="true"></span>' : html;
  }

  function showTranscript() {
    els.log.innerHTML = "";
    transcript.forEach(function (entry) {
      if (entry.role === "user") bubble("user", window.NovaMarkdown.escapeHtml(entry.content));
      else if (entry.role === "error") bubble("error", window.NovaMarkdown.escapeHtml(entry.content));
      else bubble("assistant", renderMarkdown(entry.content, false));
    });
    els.session.textContent = sessionId ? "session " + sessionId.slice(0, 8) : "";
  }

  function socketUrl() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var url = proto + "//" + location.host + "/ws/chat";
    return sessionId ? url + "?session_id=" + encodeURIComponent(sessionId) : url;
  }

  function connect() {
    clearTimeout(retryTimer);
    ready = false;
    setStatus("connecting…", "pending");
    ws = new WebSocket(socketUrl());
    ws.onopen = function () {
      var key = sessionStorage.getItem(KEY_STORE);
      // The key goes in a frame rather than the URL, so it never lands in access logs. Without one, a ping
      // asks the server whether this caller needs one: it closes with 4001 at once if so (a local install
      // with REQUIRE_AUTH=false answers the ping instead).
      if (key) ws.send(JSON.stringify({ type: "auth", token: key }));
      else ws.send(JSON.stringify({ type: "ping" }));
    };
    ws.onmessage = function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      handle(frame);
    };
    ws.onclose = function (event) {
      ready = false;
      finishStream();
      if (event.code === CLOSE_UNAUTHORIZED) {
        setStatus(sessionStorage.getItem(KEY_STORE) ? "That key or secret was refused — enter another above" : ASK_FOR_KEY, "error");
        els.key.focus();
        return;
      }
      setStatus("disconnected — reconnecting…", "pending");
      retryTimer = setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    };
  }

  // Drop the current socket without triggering the backoff reconnect, then connect at once.
  function reconnectNow() {
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    finishStream();
    connect();
  }

  function handle(frame) {
    switch (frame.type) {
      case "system":
        ready = true;
        retryDelay = 500;
        if (frame.session_id !== sessionId) {
          sessionId = frame.session_id;
          localStorage.setItem(SESSION_STORE, sessionId);
          transcript = loadTranscript(sessionId);
          showTranscript();
        }
        setStatus("connected", "ok");
        while (outbox.length) ws.send(JSON.stringify({ type: "user", content: outbox.shift() }));
        break;
      case "queued":
        setStatus("Nova is unreachable — your message is queued and will be answered", "pending");
        break;
      case "stream_chunk":
        if (!streaming) streaming = { el: bubble("assistant", ""), text: "" };
        streaming.text += frame.delta;
        streaming.el.innerHTML = renderMarkdown(streaming.text, true);
        setStatus("connected", "ok");
        scrollDown();
        break;
      case "stream_end":
        finishStream();
        break;
      case "error":
        finishStream();
        transcript.push({ role: "error", content: frame.content });
        saveTranscript();
        bubble("error", window.NovaMarkdown.escapeHtml(frame.content));
        break;
    }
  }

  function finishStream() {
    if (!streaming) return;
    streaming.el.innerHTML = renderMarkdown(streaming.text, false);
    transcript.push({ role: "assistant", content: streaming.text });
    saveTranscript();
    streaming = null;
  }

  els.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = els.input.value.trim();
    if (!text) return;
    els.input.value = "";
    transcript.push({ role: "user", content: text });
    saveTranscript();
    bubble("user", window.NovaMarkdown.escapeHtml(text));
    if (ready && ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "user", content: text }));
    else {
      outbox.push(text);
      if (!ws || ws.readyState === WebSocket.CLOSED) connect();
    }
  });

  els.input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      els.form.requestSubmit();
    }
  });

  els.keyForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var key = els.key.value.trim();
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
    els.key.value = "";
    els.key.placeholder = key ? "key saved" : "API key or admin secret";
    reconnectNow();
  });

  els.newChat.addEventListener("click", function () {
    sessionId = "";
    localStorage.removeItem(SESSION_STORE);
    transcript = [];
    showTranscript();
    reconnectNow();
  });

  localStorage.removeItem(OLD_KEY_STORE);
  if (sessionStorage.getItem(KEY_STORE)) els.key.placeholder = "key saved";
  showTranscript();
  connect();
})();
