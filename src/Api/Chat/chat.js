'use strict';

// The chat page: one conversation per browser (its user id in local storage), each message sent
// as a combined turn (sentiment first, then the reply streamed as server-sent events).
(() => {
  const USER_KEY = 'qwen-chat-user';
  const API_KEY = 'qwen-chat-api-key';
  const LABELS = { positive: '😄 正面', negative: '😞 负面' };

  const $ = id => document.getElementById(id);
  const messages = $('messages');
  const statusLine = $('status');
  const composer = $('composer');
  const input = $('message');
  const sendButton = $('send');
  const keyForm = $('key-form');
  const keyInput = $('key-input');

  // Read by people debugging the page and by the browser test.
  const state = { user: null, busy: false, turns: 0, events: [], lastError: null };
  window.qwenChat = state;

  function newUserId() {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return 'web-' + Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
  }

  function storedUserId() {
    let id = localStorage.getItem(USER_KEY);
    if (!id || !/^[A-Za-z0-9._@-]{1,128}$/.test(id)) {
      id = newUserId();
      localStorage.setItem(USER_KEY, id);
    }
    return id;
  }

  function showStatus(text) {
    statusLine.textContent = text;
    statusLine.hidden = !text;
    state.lastError = text || null;
  }

  // The API key, asked once when the Api answers 401 and kept for this tab only.
  function askForKey(refused) {
    keyForm.hidden = false;
    keyForm.querySelector('label').textContent = refused
      ? 'The service refused that API key. Enter another (kept in this tab only).'
      : 'This service needs an API key. It is kept in this tab only (session storage).';
    keyInput.value = '';
    keyInput.focus();
    return new Promise(resolve => {
      keyForm.onsubmit = event => {
        event.preventDefault();
        sessionStorage.setItem(API_KEY, keyInput.value.trim());
        keyForm.hidden = true;
        resolve();
      };
    });
  }

  async function call(path, init = {}) {
    for (let attempt = 0; ; attempt++) {
      const headers = Object.assign({}, init.headers || {});
      const key = sessionStorage.getItem(API_KEY);
      if (key) headers['Authorization'] = 'Bearer ' + key;
      const response = await fetch(path, Object.assign({}, init, { headers }));
      if (response.status !== 401) return response;
      await askForKey(attempt > 0 || key !== null);
    }
  }

  async function problemText(response) {
    try {
      const body = await response.json();
      return body.detail || (body.error && body.error.message) || body.title || '';
    } catch {
      return '';
    }
  }

  // Failures in words: what happened and what to do.
  function describe(status, detail, retryAfter) {
    if (status === 429) {
      const wait = retryAfter ? ` Please wait ${retryAfter} s before sending again.` : ' Please wait a moment before sending again.';
      return `Too many requests (429): the service is busy or you sent too fast.${wait}`;
    }
    if (status === 503) {
      return `The service is unavailable right now (503)${detail ? ': ' + detail : ''}. ` +
        'The conversation store or the model may be down; your message was not stored. Try again shortly.';
    }
    if (status === 504) return `The reply took too long (504)${detail ? ': ' + detail : ''}.`;
    return `The request failed (${status})${detail ? ': ' + detail : ''}.`;
  }

  function retryAfterOf(response) {
    const value = response.headers.get('Retry-After');
    if (!value) return null;
    const seconds = Number(value);
    if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
    const at = Date.parse(value);
    return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
  }

  function scrollDown() {
    messages.scrollTop = messages.scrollHeight;
  }

  function addUserMessage(text, sentiment) {
    const item = document.createElement('div');
    item.className = 'message user';
    const body = document.createElement('div');
    body.className = 'text';
    body.textContent = text;
    const badge = document.createElement('span');
    badge.className = 'badge pending';
    badge.textContent = '情感判断…';
    item.append(body, document.createElement('br'), badge);
    messages.append(item);
    if (sentiment) setBadge(badge, sentiment);
    else if (sentiment === null) badge.remove();
    scrollDown();
    return badge;
  }

  function setBadge(badge, sentiment) {
    badge.className = 'badge';
    badge.dataset.label = sentiment.label;
    badge.dataset.score = String(sentiment.score);
    badge.textContent = `${LABELS[sentiment.label] || sentiment.label} · ${Math.round(sentiment.score * 100)}%`;
    badge.title = `情感判断 (sentiment): ${sentiment.label}, confidence ${sentiment.score.toFixed(3)}`;
  }

  function addAssistantMessage(text, done) {
    const item = document.createElement('div');
    item.className = 'message assistant';
    item.dataset.state = done ? 'done' : 'streaming';
    const body = document.createElement('div');
    body.className = 'text';
    body.textContent = text;
    item.append(body);
    messages.append(item);
    scrollDown();
    return item;
  }

  async function loadHistory() {
    messages.replaceChildren();
    showStatus('');
    let response;
    try {
      response = await call(`/v1/conversations/${encodeURIComponent(state.user)}`);
    } catch (e) {
      showStatus(`Could not reach the service to load the conversation: ${e.message}.`);
      return;
    }
    // 404: this user has no conversation yet (never started, or deleted): an empty page, not an error.
    if (response.status === 404) {
      state.events.push('history');
      return;
    }
    if (!response.ok) {
      showStatus('Could not load the conversation. ' + describe(response.status, await problemText(response), retryAfterOf(response)));
      return;
    }
    const history = await response.json();
    for (const message of history.messages) {
      if (message.role === 'user') addUserMessage(message.content, message.sentiment || null);
      else addAssistantMessage(message.content, true);
    }
    state.events.push('history');
  }

  // Server-sent events of one streamed turn: "sentiment", "delta"s, then "done" (or "error").
  async function* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').filter(l => l.startsWith('data: ')).map(l => l.slice(6)).join('\n');
        if (data) yield JSON.parse(data);
      }
    }
  }

  async function sendMessage(text) {
    state.busy = true;
    sendButton.disabled = true;
    showStatus('');
    const badge = addUserMessage(text);
    let reply = null;
    let finished = false;
    let responded = false;
    try {
      const response = await call(`/v1/conversations/${encodeURIComponent(state.user)}/messages`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept': 'text/event-stream' },
        body: JSON.stringify({ content: text, stream: true, sentiment: true }),
      });
      responded = true;
      if (!response.ok) {
        badge.remove();
        showStatus(describe(response.status, await problemText(response), retryAfterOf(response)));
        return;
      }
      for await (const event of events(response)) {
        if (event.type === 'sentiment') {
          setBadge(badge, event.sentiment);
          state.events.push('sentiment');
        } else if (event.type === 'delta') {
          if (!reply) {
            reply = addAssistantMessage('', false);
            state.events.push('first-token');
          }
          reply.querySelector('.text').textContent += event.text;
          scrollDown();
        } else if (event.type === 'done') {
          if (!reply) reply = addAssistantMessage('', false);
          reply.querySelector('.text').textContent = event.reply.reply;
          reply.dataset.state = 'done';
          if (event.reply.sentiment) setBadge(badge, event.reply.sentiment);
          finished = true;
          state.turns++;
          state.events.push('done');
        } else if (event.type === 'error') {
          showStatus(describe(event.status, event.detail, null));
          finished = true;
          if (reply) reply.dataset.state = 'failed';
          state.events.push('error');
        }
      }
      if (!finished) throw new Error('the stream ended early');
    } catch (e) {
      if (!finished) {
        if (reply) reply.dataset.state = 'failed';
        if (badge.classList.contains('pending')) badge.remove();
        showStatus(responded
          ? `The connection dropped before the reply finished (${e.message}); the text shown is incomplete. Send the message again to retry.`
          : `Could not reach the service (${e.message}). Check your connection and send again.`);
        state.events.push('dropped');
      }
    } finally {
      state.busy = false;
      sendButton.disabled = false;
      input.focus();
    }
  }

  composer.addEventListener('submit', event => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || state.busy) return;
    input.value = '';
    sendMessage(text);
  });

  $('new-conversation').addEventListener('click', () => {
    state.user = newUserId();
    localStorage.setItem(USER_KEY, state.user);
    $('user-id').textContent = state.user;
    messages.replaceChildren();
    showStatus('');
    input.focus();
  });

  state.user = storedUserId();
  $('user-id').textContent = state.user;
  loadHistory();
})();
