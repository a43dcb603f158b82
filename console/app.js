/*
 * wachat agent console.  Plain JavaScript, no framework, no build step.
 *
 * Talks to the agent API under ./api/ (nginx authenticates the agent and
 * proxies to wachatd); live updates come from the server-sent event feed
 * api/events, so nothing polls while the feed is up.  Every piece of text
 * from the server goes into the page through textContent, never innerHTML.
 *
 * Routing: #/c/<conversation id, URL-encoded> opens a conversation, so a
 * link in a notification e-mail lands on it.
 */
'use strict';

(() => {
  // ---------------------------------------------------------------- setup

  // location.origin and pathname never carry URL credentials, so requests
  // built from them are valid even when the page was opened as
  // http://user:pass@host/agent/ (the browser keeps the basic auth).
  const BASE = location.origin + location.pathname.replace(/[^/]*$/, '') + 'api/';
  const HEARTBEAT_MS = 20000;
  const LIST_LIMIT = 200;
  const FILTERS = ['all', 'waiting', 'mine', 'unread'];

  const $ = (id) => document.getElementById(id);
  const ui = {
    fatal: $('fatal'), conn: $('conn'), meName: $('me-name'), presence: $('presence'),
    layout: $('layout'), list: $('conv-list'), listEmpty: $('list-empty'), search: $('search'),
    waitingCount: $('waiting-count'), placeholder: $('placeholder'), conv: $('conv'),
    back: $('back'), name: $('conv-name'), phone: $('conv-phone'), mode: $('conv-mode'),
    window: $('conv-window'), take: $('take'), resolve: $('resolve'), history: $('history'),
    newBelow: $('new-below'), notice: $('conv-notice'), composer: $('composer'),
    reply: $('reply'), send: $('send'), composeError: $('compose-error'), toast: $('toast'),
    transfer: $('transfer'), asNote: $('as-note'),
    templates: $('templates'), tplSelect: $('tpl-select'), tplRefresh: $('tpl-refresh'),
    tplPreview: $('tpl-preview'), tplParams: $('tpl-params'), tplSend: $('tpl-send'),
    tplError: $('tpl-error'),
    attach: $('attach'), fileInput: $('file-input'), attached: $('attached'),
    attachedName: $('attached-name'), detach: $('detach'),
    insight: $('insight'), insightList: $('insight-list'), insightSince: $('insight-since'),
    kbview: $('kbview'), kbList: $('kb-list'), kbFilter: $('kb-filter'), kbTry: $('kb-try'),
    kbTryQ: $('kb-try-q'), kbTryOut: $('kb-try-out'), kbAdd: $('kb-add'), kbAddQ: $('kb-add-q'),
    kbAddAlso: $('kb-add-also'), kbAddA: $('kb-add-a'), kbAddMsg: $('kb-add-msg'),
    notifyToggle: $('notify-toggle'), searchHits: $('search-hits'), searchHitsList: $('search-hits-list'),
    canned: $('canned'),
  };

  const S = {
    me: null,               // { id, name, presence, notify }
    presence: null,
    list: [],               // conversations of the current filter, server order
    filter: FILTERS.includes(localStorage.getItem('wachat.filter'))
      ? localStorage.getItem('wachat.filter') : 'all',
    query: '',
    openId: null,           // the conversation in the right pane
    conv: null,             // its details and history
    convSeq: 0,             // discards answers for a conversation left meanwhile
    drafts: loadDrafts(),   // unsent text per conversation (this tab)
    skew: 0,                // server clock - local clock (ms)
    waiting: 0,
    live: false,            // the event feed is connected
    sending: false,
    file: null,             // a file chosen or dropped, sent with the caption
    tpls: null,             // the approved templates (GET templates), once asked
  };

  function loadDrafts() {
    try {
      return new Map(JSON.parse(sessionStorage.getItem('wachat.drafts') || '[]'));
    } catch (e) {
      return new Map();
    }
  }

  function storeDrafts() {
    try { sessionStorage.setItem('wachat.drafts', JSON.stringify([...S.drafts])); } catch (e) { /* full */ }
  }

  // ------------------------------------------------------------------ DOM

  // h('div', { class: 'x', title: t }, child, 'text', ...): strings become
  // text nodes, so user data is never parsed as HTML.
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of kids) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  // DOM writes only where something changed: a row or a message under the
  // agent's mouse or selection stays the same node while events come in.
  function setText(el, text) {
    const t = String(text);
    if (el.textContent !== t) el.textContent = t;
  }

  function setAttr(el, name, value) {
    if (value === undefined || value === null || value === '') {
      if (el.hasAttribute(name)) el.removeAttribute(name);
    } else if (el.getAttribute(name) !== String(value)) {
      el.setAttribute(name, String(value));
    }
  }

  function setClass(el, cls) {
    if (el.className !== cls) el.className = cls;
  }

  let toastTimer = 0;
  function toast(msg, kind) {
    ui.toast.textContent = msg;
    ui.toast.className = 'toast' + (kind ? ' ' + kind : '');
    ui.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { ui.toast.hidden = true; }, kind === 'error' ? 8000 : 3500);
  }

  // ------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(status, name, message) {
      super(message);
      this.status = status;
      this.name_ = name || '';
    }
  }

  function explain(status, data) {
    if (data && typeof data.message === 'string' && data.message) return data.message;
    if (status === 401) return 'You are not signed in: reload the page to log in.';
    if (status === 403) return 'You are not allowed to do that.';
    if (status === 404) return 'Not found (was the conversation removed?).';
    if (status === 502 || status === 503 || status === 504) {
      return 'The agent API is not reachable (HTTP ' + status + '): is wachatd running with api_listen?';
    }
    return 'The server answered HTTP ' + status + '.';
  }

  async function api(method, path, body) {
    const opt = {
      method,
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store',
    };
    // every change is JSON: the API refuses anything a form could send
    if (method !== 'GET') {
      opt.headers['Content-Type'] = 'application/json';
      opt.body = JSON.stringify(body === undefined ? {} : body);
    }
    let res;
    try {
      res = await fetch(BASE + path, opt);
    } catch (e) {
      throw new ApiError(0, 'network', 'Cannot reach the server (' + e.message + ').');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!res.ok) throw new ApiError(res.status, data && data.error, explain(res.status, data));
    return data;
  }

  const convPath = (id) => 'conversations/' + encodeURIComponent(id);

  // --------------------------------------------------------------- format

  const now = () => Date.now() + S.skew;

  const fmtTime = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const fmtDay = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
  const fmtDate = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
  const fmtLong = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
  const fmtFull = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

  function startOfDay(ms) { const d = new Date(ms); d.setHours(0, 0, 0, 0); return d.getTime(); }

  function when(ms) {
    if (!ms) return '';
    const today = startOfDay(Date.now());
    if (ms >= today) return fmtTime.format(ms);
    if (ms >= today - 86400000) return 'Yesterday';
    if (ms >= today - 6 * 86400000) return fmtDay.format(ms);
    return fmtDate.format(ms);
  }

  function dayLabel(ms) {
    const today = startOfDay(Date.now());
    const d = startOfDay(ms);
    if (d === today) return 'Today';
    if (d === today - 86400000) return 'Yesterday';
    return fmtLong.format(ms);
  }

  function duration(ms) {
    const m = Math.floor(ms / 60000);
    if (m < 1) return '<1m';
    if (m < 60) return m + 'm';
    const hrs = Math.floor(m / 60);
    return hrs + 'h ' + String(m % 60).padStart(2, '0') + 'm';
  }

  // The 24-hour window: [text, class] from when it closes (server ms).
  function windowState(closes) {
    if (!closes) return ['no window', 'closed'];
    const left = closes - now();
    if (left <= 0) return ['window closed', 'closed'];
    return [duration(left) + ' left', left < 30 * 60000 ? 'urgent' : left < 2 * 3600000 ? 'soon' : ''];
  }

  function paintWindow(el, closes, long) {
    const [text, cls] = windowState(closes);
    setText(el, long && cls !== 'closed' ? '24-hour window: ' + text : text);
    setClass(el, 'window' + (cls ? ' ' + cls : ''));
    setAttr(el, 'title', closes ? 'WhatsApp allows free-form replies until ' + fmtFull.format(closes) : '');
  }

  function phone(c) { return c.wa_id ? '+' + c.wa_id : ''; }

  function agentLabel(id) {
    if (!id) return 'an agent';
    if (S.me && id === S.me.id) return 'you';
    return id;
  }

  function modeChip(el, c, short) {
    const mine = c.mode === 'agent' && S.me && c.agent === S.me.id;
    let text = c.mode || '?';
    if (c.mode === 'ai') text = 'AI';
    else if (c.mode === 'waiting_agent') {
      text = short ? 'Waiting' : 'Waiting for an agent';
      if (c.waiting_since) text += ' · ' + duration(Math.max(0, now() - c.waiting_since));
    }
    else if (c.mode === 'agent') text = mine ? 'With you' : 'With ' + agentLabel(c.agent);
    setText(el, text);
    setClass(el, 'chip mode-' + (c.mode || 'unknown') + (mine ? ' mine' : ''));
    setAttr(el, 'data-mode', c.mode || '');
    setAttr(el, 'title', c.mode === 'ai' ? 'The assistant answers this customer' : '');
    return el;
  }

  // ----------------------------------------------------------- presence

  function paintPresence() {
    for (const b of ui.presence.querySelectorAll('button')) {
      b.setAttribute('aria-checked', String(b.dataset.presence === S.presence));
    }
    ui.presence.dataset.presence = S.presence || '';
  }

  async function setPresence(p) {
    const buttons = ui.presence.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      // console: this page's heartbeats keep the presence alive
      const r = await api('POST', 'presence', { presence: p, console: true });
      S.presence = (r && r.presence) || p;
      paintPresence();
      toast(p === 'online' ? 'You are online: new conversations come to you.'
        : p === 'away' ? 'You are away: no new conversations.' : 'You are offline.');
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function heartbeat() {
    api('POST', 'heartbeat').catch(() => { /* the next one retries; the feed shows the link state */ });
  }

  // ---------------------------------------------------------------- list

  function listParams(filter) {
    const p = new URLSearchParams({ limit: String(LIST_LIMIT) });
    if (filter === 'waiting') p.set('mode', 'waiting_agent');
    if (filter === 'mine') p.set('agent', 'me');
    if (filter === 'unread') p.set('unread', '1');
    return 'conversations?' + p.toString();
  }

  const asList = (r) => (Array.isArray(r) ? r : (r && Array.isArray(r.conversations) ? r.conversations : []));

  function learnSkew(items) {
    for (const c of items) {
      if (c.window_closes_at && typeof c.window_left_ms === 'number' && c.window_left_ms > 0) {
        S.skew = (c.window_closes_at - c.window_left_ms) - Date.now();
        return;
      }
    }
  }

  let listSeq = 0;
  async function refreshList() {
    const seq = ++listSeq;
    const filter = S.filter;
    const [items, waiting] = await Promise.all([
      api('GET', listParams(filter)).then(asList),
      filter === 'waiting' ? null : api('GET', listParams('waiting')).then(asList).catch(() => null),
    ]);
    if (seq !== listSeq) return;           // a newer refresh is on its way
    learnSkew(items);
    S.list = items;
    S.waiting = filter === 'waiting' ? items.length : (waiting ? waiting.length : S.waiting);
    // the open conversation's own row is the freshest source of its unread
    renderList();
  }

  function matches(c, q) {
    if (!q) return true;
    const hay = ((c.name || '') + ' ' + (c.wa_id || '') + ' ' + (c.last_text || '')).toLowerCase();
    return q.split(/\s+/).every((w) => hay.includes(w));
  }

  // one <li> per conversation, kept while it is listed
  const rowEls = new Map();

  function makeRow(id) {
    const r = {
      name: h('span', { class: 'name', dir: 'auto' }),
      time: h('span', { class: 'time' }),
      last: h('span', { class: 'last', dir: 'auto' }),
      badge: h('span', { class: 'badge' }),
      chip: h('span'),
      win: h('span', { class: 'window' }),
    };
    r.a = h('a', { class: 'conv-item', href: '#/c/' + encodeURIComponent(id), dataset: { id } },
      h('div', { class: 'row' }, r.name, r.time),
      h('div', { class: 'row' }, r.last, r.badge),
      h('div', { class: 'row meta' }, r.chip, r.win));
    r.li = h('li', {}, r.a);
    return r;
  }

  function fillRow(r, c) {
    const unread = c.id === S.openId ? 0 : (c.unread | 0);
    setClass(r.a, 'conv-item' + (c.id === S.openId ? ' active' : '') + (unread ? ' unread' : '')
      + (c.mode === 'waiting_agent' ? ' waiting' : ''));
    setAttr(r.a, 'data-mode', c.mode || '');
    setAttr(r.a, 'title', ((c.name || '') + ' ' + phone(c)).trim());
    setText(r.name, c.name || phone(c) || c.id);
    setText(r.time, when(c.last_at));
    setAttr(r.time, 'title', c.last_at ? fmtFull.format(c.last_at) : '');
    setText(r.last, c.last_text || '');
    r.badge.hidden = !unread;
    setText(r.badge, unread > 99 ? '99+' : unread);
    setAttr(r.badge, 'title', unread + ' unread');
    modeChip(r.chip, c, true);
    paintWindow(r.win, c.window_closes_at);
  }

  function renderList() {
    const q = S.query.trim().toLowerCase();
    const rows = S.list.filter((c) => matches(c, q));
    const keep = new Set();
    rows.forEach((c, i) => {
      let r = rowEls.get(c.id);
      if (!r) {
        r = makeRow(c.id);
        rowEls.set(c.id, r);
      }
      keep.add(c.id);
      fillRow(r, c);
      const at = ui.list.children[i];
      if (at !== r.li) ui.list.insertBefore(r.li, at || null);
    });
    for (const [id, r] of rowEls) {
      if (!keep.has(id)) {
        r.li.remove();
        rowEls.delete(id);
      }
    }

    ui.listEmpty.hidden = rows.length > 0;
    ui.listEmpty.textContent = q ? 'Nothing matches “' + S.query.trim() + '”.'
      : { all: 'No conversations yet.', waiting: 'Nobody is waiting for an agent.',
        mine: 'You hold no conversation.', unread: 'All caught up.' }[S.filter];

    for (const b of document.querySelectorAll('.filters button')) {
      b.setAttribute('aria-selected', String(b.dataset.filter === S.filter));
    }
    ui.waitingCount.hidden = !S.waiting;
    setText(ui.waitingCount, S.waiting);

    const unreadTotal = S.list.reduce((n, c) => n + (c.id === S.openId ? 0 : (c.unread | 0)), 0);
    const n = S.waiting + (S.filter === 'all' ? unreadTotal : 0);
    document.title = (n ? '(' + n + ') ' : '') + 'wachat — agent console';
  }

  // -------------------------------------------------------- conversation

  async function showInsight() {
    ui.insightList.replaceChildren(h('li', { class: 'muted', text: 'Loading…' }));
    try {
      const r = await api('GET', 'unanswered?since=' + encodeURIComponent(ui.insightSince.value));
      const groups = (r && r.groups) || [];
      if (!groups.length) {
        ui.insightList.replaceChildren(h('li', { class: 'muted', text: 'Nothing: every question got an answer.' }));
        return;
      }
      ui.insightList.replaceChildren(...groups.map((g) => h('li', { class: 'insight-item' },
        h('div', { class: 'q', dir: 'auto' }, h('span', { class: 'count', text: g.count + '×' }), ' ', g.text),
        h('div', { class: 'why', text: (g.why === 'fallback' ? 'no confident answer'
          : 'answered' + (g.answered_by && g.answered_by.startsWith('kb:') ? ' from #' + g.answered_by.slice(3) : ' by the model')
            + ', then asked for a person')
          + (g.lang ? ' · ' + g.lang : '') + ' · last ' + fmtFull.format(g.last_ms) }),
        h('div', { class: 'convs' }, ...(g.conversations || []).map((id) =>
          h('a', { href: '#/c/' + encodeURIComponent(id), text: id.split(':').pop() }))),
        (g.picked || []).length ? h('div', { class: 'why picked', text: 'Then picked among the suggested entries: '
          + g.picked.map((p) => '#' + p.id + ' (' + p.count + '×)').join(', ') }) : null,
        ...(g.picked || []).slice(0, 1).map((p) => addPickedButton(asPhrasing(g.text), p.id)),
        h('button', { type: 'button', class: 'btn btn-quiet write-answer', dataset: { q: g.text },
          text: 'Write the answer' }))));
    } catch (e) {
      ui.insightList.replaceChildren(h('li', { class: 'error', text: e.message }));
    }
  }

  // ------------------------------------------------------ knowledge base

  const KB = { version: null, entries: [], editable: false };

  async function showKb() {
    ui.kbList.replaceChildren(h('li', { class: 'muted', text: 'Loading…' }));
    try {
      const r = await api('GET', 'kb');
      KB.version = r.version;
      KB.entries = r.entries || [];
      KB.editable = !!r.editable;
      ui.kbAdd.hidden = !KB.editable;
      paintKb();
    } catch (e) {
      ui.kbList.replaceChildren(h('li', { class: 'error', text: e.message }));
    }
  }

  function paintKb() {
    const f = ui.kbFilter.value.trim().toLowerCase();
    const shown = KB.entries.filter((e) => !f || [e.id, e.question, e.answer, ...(e.also || [])]
      .some((t) => String(t).toLowerCase().includes(f)));
    ui.kbList.replaceChildren(...shown.map((e) => h('li', { class: 'insight-item kb-entry', dataset: { id: e.id } },
      h('div', { class: 'q', dir: 'auto' }, h('span', { class: 'count', text: '#' + e.id }), ' ', e.question),
      (e.also || []).length ? h('div', { class: 'why', dir: 'auto', text: 'Also: ' + e.also.join(' | ') }) : null,
      h('div', { class: 'a', dir: 'auto', text: e.answer }),
      KB.editable ? h('form', { class: 'kb-row kb-also', dataset: { id: e.id } },
        h('input', { placeholder: 'Another way to ask it', 'aria-label': 'Another way to ask #' + e.id }),
        h('button', { type: 'submit', class: 'btn btn-quiet', text: 'Add phrasing' })) : null)));
  }

  async function addPhrasing(form) {
    const input = form.querySelector('input');
    const also = input.value.trim();
    if (!also) return;
    try {
      const r = await api('POST', 'kb/also', { id: form.dataset.id, also: [also], version: KB.version });
      KB.version = r.version;
      toast('Added to #' + form.dataset.id + '.');
      showKb();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  // a customer's question as a phrasing: one line, without the "|" that
  // separates phrasings (the server refuses both), as the button shows it
  function asPhrasing(q) {
    return String(q).replace(/[|\uFF5C]/g, ' ').replace(/\s+/g, ' ').trim();
  }

  function addPickedButton(also, id) {
    return also ? h('button', { type: 'button', class: 'btn btn-quiet add-picked', dataset: { also, id },
      text: 'Add “' + also + '” as a phrasing of #' + id }) : null;
  }

  // the question customers asked, then answered by tapping #id: its phrasing
  async function addPicked(b) {
    try {
      const kb = await api('GET', 'kb');
      if (!kb.editable) throw new Error('You may not edit the knowledge base (kb_editors).');
      const r = await api('POST', 'kb/also', { id: b.dataset.id, also: [b.dataset.also], version: kb.version });
      KB.version = r.version;
      b.disabled = true;
      toast('Added to #' + b.dataset.id + '.');
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  async function tryQuestion() {
    const q = ui.kbTryQ.value.trim();
    if (!q) return;
    try {
      const r = await api('GET', 'kb/ask?q=' + encodeURIComponent(q));
      ui.kbTryOut.hidden = false;
      ui.kbTryOut.replaceChildren(
        h('div', { class: 'q', text: r.source === 'fallback' ? 'No confident answer: the customer gets the fallback:'
          : r.source.startsWith('kb:') ? 'Answered from #' + r.source.slice(3) + ':'
          : r.source === 'greeting' ? 'A greeting: the greeting and a menu of entries:'
          : r.source === 'thanks' ? 'Thanks: the thanks text:' : r.source }),
        r.answer ? h('div', { class: 'a', dir: 'auto', text: r.answer }) : null,
        (r.buttons || []).length ? h('div', { class: 'buttons' }, ...r.buttons.map((b) => h('span', {
          class: 'button', dir: 'auto', title: b.id === 'live_agent' ? 'reaches a person' : 'answers #' + b.id,
          text: b.title }))) : null,
        h('ol', { class: 'hits' }, ...(r.hits || []).map((x) => h('li', {
          class: x.score >= r.min_score ? 'ok' : 'low',
          text: '#' + x.id + ' ' + Number(x.score).toFixed(2) + ' — ' + x.question }))),
        h('div', { class: 'why', text: 'An entry needs ' + Number(r.min_score).toFixed(2) + ' or more.'
          + (r.ranking === 'words and meaning' ? ' Ranked by words and meaning.' : '')
          + (r.ranking_note ? ' Ranked by words alone: ' + r.ranking_note + '.' : '') }));
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  async function addAnswer() {
    const body = {
      question: ui.kbAddQ.value.trim(),
      answer: ui.kbAddA.value.trim(),
      also: ui.kbAddAlso.value.split('|').map((s) => s.trim()).filter(Boolean),
      version: KB.version,
    };
    if (!body.question || !body.answer) return;
    ui.kbAddMsg.textContent = '';
    try {
      const r = await api('POST', 'kb/entries', body);
      KB.version = r.version;
      ui.kbAddMsg.textContent = 'Added as #' + r.id + '. The assistant answers with it from now on.';
      ui.kbAddQ.value = ui.kbAddAlso.value = ui.kbAddA.value = '';
      showKb();
    } catch (e) {
      ui.kbAddMsg.textContent = e.message;
    }
  }

  // a question (and an answer) to write, from the unanswered view or a reply
  function writeAnswer(question, answer) {
    location.hash = '#/kb';
    ui.kbAddQ.value = question || '';
    ui.kbAddA.value = answer || '';
    setTimeout(() => (answer ? ui.kbAddAlso : ui.kbAddA).focus(), 0);
  }

  function openFromHash() {
    const kbview = location.hash === '#/kb';
    ui.kbview.hidden = !kbview;
    if (kbview) {
      saveDraft();
      S.openId = null;
      S.conv = null;
      ui.insight.hidden = true;
      ui.layout.classList.add('show-chat');
      ui.placeholder.hidden = true;
      ui.conv.hidden = true;
      renderList();
      showKb();
      return;
    }
    const insight = location.hash === '#/unanswered';
    ui.insight.hidden = !insight;
    if (insight) {
      saveDraft();
      S.openId = null;
      S.conv = null;
      ui.layout.classList.add('show-chat');
      ui.placeholder.hidden = true;
      ui.conv.hidden = true;
      renderList();
      showInsight();
      return;
    }
    const m = /^#\/c\/(.+)$/.exec(location.hash);
    let id = null;
    if (m) {
      try { id = decodeURIComponent(m[1]); } catch (e) { id = null; }
    }
    if (id === S.openId) return;
    saveDraft();
    S.openId = id;
    S.conv = null;
    S.convSeq++;
    ui.layout.classList.toggle('show-chat', !!id);
    ui.placeholder.hidden = !!id;
    ui.conv.hidden = !id;
    renderList();
    if (!id) return;
    // what the list knows, at once; the details follow
    const row = S.list.find((c) => c.id === id);
    paintHead(row || { id, mode: '' });
    histEls = new Map();
    ui.history.dataset.count = '0';
    ui.history.replaceChildren(h('div', { class: 'empty', text: 'Loading…' }));
    ui.notice.hidden = true;
    ui.reply.value = S.drafts.get(id) || '';
    ui.composeError.textContent = '';
    autosize();
    refreshConv(true).catch((e) => {
      ui.history.replaceChildren(h('div', { class: 'empty', text: e.message }));
    });
  }

  function saveDraft() {
    if (!S.openId) return;
    if (ui.reply.value) S.drafts.set(S.openId, ui.reply.value);
    else S.drafts.delete(S.openId);
    storeDrafts();
  }

  async function refreshConv(first) {
    if (!S.openId) return;
    const id = S.openId;
    const seq = S.convSeq;
    const c = await api('GET', convPath(id));
    if (seq !== S.convSeq || id !== S.openId) return;
    if (c && c.window_closes_at && typeof c.window_left_ms === 'number' && c.window_left_ms > 0) {
      S.skew = (c.window_closes_at - c.window_left_ms) - Date.now();
    }
    S.conv = c;
    // opening it reads it
    const row = S.list.find((r) => r.id === id);
    if (row && row.unread) { row.unread = 0; renderList(); }
    paintHead(c);
    paintComposer(c);         // first: its notice takes room from the history
    renderHistory(c, first);
  }

  function paintHead(c) {
    ui.name.textContent = c.name || phone(c) || c.id;
    ui.name.dir = 'auto';
    ui.phone.textContent = phone(c);
    ui.phone.title = c.phone_number_id ? 'business number id ' + c.phone_number_id : '';
    modeChip(ui.mode, c);
    ui.mode.hidden = !c.mode;
    paintWindow(ui.window, c.window_closes_at, true);
    ui.window.hidden = !c.mode;
    const mine = c.mode === 'agent' && S.me && c.agent === S.me.id;
    ui.take.hidden = !c.mode || mine;
    ui.take.textContent = c.mode === 'agent' ? 'Take over' : 'Take';
    ui.take.title = c.mode === 'agent' ? 'Take this conversation from ' + agentLabel(c.agent)
      : c.mode === 'ai' ? 'Stop the assistant and answer this customer yourself'
        : 'Answer this customer yourself';
    ui.resolve.hidden = !(mine || c.mode === 'waiting_agent');
    ui.transfer.hidden = !mine;
  }

  function held(c) { return c.mode === 'agent' && S.me && c.agent === S.me.id; }

  function paintComposer(c) {
    if (ui.asNote.checked) {      // a note needs neither the conversation nor the window
      ui.notice.hidden = true;
      ui.reply.disabled = false;
      ui.send.disabled = S.sending;
      ui.send.textContent = 'Add note';
      ui.attach.disabled = true;
      ui.reply.placeholder = 'Internal note for your colleagues (the customer never sees it)…';
      return;
    }
    ui.send.textContent = S.file ? 'Send file' : 'Send';
    const open = c.window_closes_at && c.window_closes_at > now();
    const mine = held(c);
    let note = '';
    let kind = '';
    if (!mine) {
      kind = 'info';
      note = c.mode === 'ai' ? 'The assistant is answering this customer. Take the conversation to reply yourself.'
        : c.mode === 'waiting_agent' ? 'This customer is waiting for a person. Take the conversation to answer.'
          : c.mode === 'agent' ? capital(agentLabel(c.agent)) + ' is handling this conversation. Take it over to reply.'
            : '';
    }
    if (!open && c.mode) {
      kind = '';
      note = 'The 24-hour window is closed: WhatsApp allows only a template message until the customer writes again.'
        + (mine ? ' Pick one below.' : ' Take the conversation to send one.');
    }
    const tpl = mine && !open && !!c.mode;
    ui.templates.hidden = !tpl;
    if (tpl && !S.tpls) loadTemplates();
    ui.notice.textContent = note;
    ui.notice.className = 'conv-notice' + (kind ? ' ' + kind : '');
    ui.notice.hidden = !note;
    const can = mine && open;
    ui.reply.disabled = !can;
    ui.send.disabled = !can || S.sending;
    ui.attach.disabled = !can || S.sending;
    ui.reply.placeholder = !can ? ''
      : S.file ? 'Add a caption (optional)…'
        : 'Reply to ' + (c.name || phone(c) || 'the customer') + '…';
  }

  // ------------------------------------------------------------ templates

  // the cache wachatd keeps (waba_id); "refresh" asks WhatsApp again and
  // waits, a while, for the cache to change
  async function loadTemplates(refresh) {
    ui.tplError.textContent = '';
    try {
      const before = S.tpls ? S.tpls.fetched_ms : null;
      if (refresh) await api('POST', 'templates/refresh', {});
      let r = await api('GET', 'templates');
      for (let i = 0; refresh && i < 20 && r && r.fetched_ms === before; i++) {
        await new Promise((ok) => setTimeout(ok, 500));
        r = await api('GET', 'templates');
      }
      S.tpls = r || { templates: [] };
    } catch (e) {
      S.tpls = S.tpls || { templates: [] };
      ui.tplError.textContent = e.message;
    }
    const keep = ui.tplSelect.value;
    const list = S.tpls.templates || [];
    ui.tplSelect.replaceChildren(...list.map((t, i) => h('option', {
      value: String(i), text: t.name + ' \u00b7 ' + t.language + (t.category ? ' \u00b7 ' + t.category.toLowerCase() : ''),
    })));
    if (!list.length) {
      ui.tplSelect.append(h('option', { value: '', text: S.tpls.waba_id
        ? 'no approved templates' : 'no templates: set waba_id in wachatd\'s config' }));
    }
    if (keep && ui.tplSelect.querySelector('option[value="' + keep + '"]')) ui.tplSelect.value = keep;
    paintTemplate();
  }

  function chosenTemplate() {
    const list = (S.tpls && S.tpls.templates) || [];
    return list[Number(ui.tplSelect.value)] || null;
  }

  // the body with what is filled in so far, and one box per {{n}}
  function paintTemplate() {
    const t = chosenTemplate();
    ui.tplSend.disabled = !t;
    if (!t) {
      ui.tplPreview.textContent = '';
      ui.tplParams.replaceChildren();
      return;
    }
    const n = Number(t.params) || 0;
    while (ui.tplParams.children.length > n) ui.tplParams.lastElementChild.remove();
    for (let i = ui.tplParams.children.length; i < n; i++) {
      const input = h('input', { type: 'text', class: 'tpl-param', 'aria-label': '{{' + (i + 1) + '}}',
                                 placeholder: '{{' + (i + 1) + '}}', dataset: { n: String(i + 1) } });
      input.addEventListener('input', paintTemplate);
      ui.tplParams.append(input);
    }
    const values = [...ui.tplParams.querySelectorAll('input')].map((e) => e.value);
    ui.tplPreview.textContent = (t.body || '').replace(/\{\{(\d+)\}\}/g,
      (all, k) => values[k - 1] ? values[k - 1] : all);
  }

  async function sendTemplate() {
    const id = S.openId;
    const t = chosenTemplate();
    if (!id || !t || S.sending) return;
    const params = [...ui.tplParams.querySelectorAll('input')].map((e) => e.value.trim());
    const empty = params.findIndex((p) => !p);
    if (empty >= 0) {
      ui.tplError.textContent = 'Fill in {{' + (empty + 1) + '}}.';
      return;
    }
    S.sending = true;
    ui.tplSend.disabled = true;
    ui.tplError.textContent = '';
    try {
      await api('POST', convPath(id) + '/template', { name: t.name, language: t.language, params });
      ui.tplParams.querySelectorAll('input').forEach((e) => { e.value = ''; });
      paintTemplate();
      schedule(true, true);
      toast('Template sent.');
    } catch (e) {
      ui.tplError.textContent = e.message;
    } finally {
      S.sending = false;
      ui.tplSend.disabled = !chosenTemplate();
    }
  }

  // ---------------------------------------------------------------- files

  // What WhatsApp takes from a business (wachatd checks it again, with the
  // same table: wachat_graph_media_types in graph_build.c).
  const MB = 1024 * 1024;
  const FILE_TYPES = {
    'image/jpeg': ['image', 5 * MB], 'image/png': ['image', 5 * MB],
    'audio/aac': ['audio', 16 * MB], 'audio/amr': ['audio', 16 * MB],
    'audio/mpeg': ['audio', 16 * MB], 'audio/mp4': ['audio', 16 * MB],
    'audio/ogg': ['audio', 16 * MB], 'video/mp4': ['video', 16 * MB],
    'video/3gpp': ['video', 16 * MB], 'application/pdf': ['document', 100 * MB],
    'text/plain': ['document', 100 * MB], 'application/msword': ['document', 100 * MB],
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document': ['document', 100 * MB],
    'application/vnd.ms-excel': ['document', 100 * MB],
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': ['document', 100 * MB],
    'application/vnd.ms-powerpoint': ['document', 100 * MB],
    'application/vnd.openxmlformats-officedocument.presentationml.presentation': ['document', 100 * MB],
  };
  const CONSOLE_FILE_MAX = 16 * MB;     // wachatd's API; larger: wachatctl send-file

  // why a file cannot go, or '' when it can
  function fileProblem(f) {
    const t = FILE_TYPES[f.type];
    if (!t) return 'WhatsApp does not take files of type ' + (f.type || 'unknown') + '.';
    if (f.size === 0) return 'The file is empty.';
    if (f.size > t[1]) {
      return (t[0] === 'image' ? 'An image' : 'A ' + t[0]) + ' may be ' + (t[1] / MB) + ' MB at most; this one is '
        + (f.size / MB).toFixed(1) + ' MB.';
    }
    if (f.size > CONSOLE_FILE_MAX) return 'Files sent from the console may be 16 MB at most (wachatctl send-file takes larger documents).';
    return '';
  }

  function setFile(f) {
    ui.composeError.textContent = '';
    if (f) {
      const why = fileProblem(f);
      if (why) {
        ui.composeError.textContent = why;
        f = null;
      }
    }
    S.file = f || null;
    ui.attached.hidden = !S.file;
    ui.attachedName.textContent = S.file ? '\u{1F4CE} ' + S.file.name + ' (' + fmtSize(S.file.size) + ')' : '';
    ui.fileInput.value = '';
    if (S.conv) paintComposer(S.conv);
    if (S.file) ui.reply.focus();
  }

  // the bytes as the body; the name, type and caption in headers a form of
  // another site could not send
  async function sendFile(id, file, caption) {
    const headers = {
      Accept: 'application/json',
      'Content-Type': 'application/octet-stream',
      'X-Wachat-File-Type': file.type,
      'X-Wachat-File-Name': encodeURIComponent(file.name),
    };
    if (caption) headers['X-Wachat-Caption'] = encodeURIComponent(caption);
    let res;
    try {
      res = await fetch(BASE + convPath(id) + '/file', {
        method: 'POST', headers, body: file, credentials: 'same-origin', cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, 'network', 'Cannot reach the server (' + e.message + ').');
    }
    let data = null;
    try { data = JSON.parse(await res.text()); } catch (e) { data = null; }
    if (!res.ok) {
      throw new ApiError(res.status, data && data.error,
        data && data.error === 'bad_media' && data.message ? data.message : explain(res.status, data));
    }
    return data;
  }

  function capital(s) { return s ? s[0].toUpperCase() + s.slice(1) : s; }

  function atBottom() {
    const e = ui.history;
    return e.scrollHeight - e.scrollTop - e.clientHeight < 40;
  }

  const TICKS = {
    queued: ['…', 'Queued, not sent yet'],
    accepted: ['✓', 'Accepted by WhatsApp'],
    sent: ['✓', 'Sent'],
    delivered: ['✓✓', 'Delivered'],
    read: ['✓✓', 'Read'],
    failed: ['!', 'Failed'],
  };

  function tick(m) {
    const t = TICKS[m.status];
    if (!t) return null;
    let title = t[1];
    if (m.status === 'failed') title += m.error_code ? ' (error ' + m.error_code + ')' : '';
    return h('span', { class: 'tick ' + m.status, title, 'aria-label': title, dataset: { status: m.status }, text: t[0] });
  }

  function whoOf(m, c) {
    const w = m.who || (m.dir === 'in' ? 'customer' : 'system');
    if (m.dir === 'note') {
      const id = w.startsWith('agent:') ? w.slice(6) : w;
      return { cls: 'note', tag: 'Note', label: S.me && id === S.me.id ? 'you' : id };
    }
    if (w === 'customer') return { cls: 'customer', tag: 'Customer', label: c.name || phone(c) };
    if (w === 'ai') return { cls: 'ai', tag: 'AI', label: 'Assistant' };
    if (w.startsWith('agent:')) {
      const id = w.slice(6);
      const you = S.me && id === S.me.id;
      return { cls: 'agent', tag: 'Agent', label: you ? (S.me.name || id) + ' (you)' : id, agent: id };
    }
    return { cls: 'system', tag: 'System', label: 'automatic message' };
  }

  // Where an assistant's reply came from, as the business reads it
  // (wachat_answer_describe in wachatd says the same in wachatctl show).
  function describeSource(m) {
    if (m.score === null || m.score === undefined || !m.source) return '';
    const ids = (m.context || '').split(',').filter(Boolean).map((i) => '#' + i).join(' ');
    const score = Number(m.score).toFixed(2);
    if (m.source.startsWith('kb:')) return 'answered from #' + m.source.slice(3) + ', ' + score;
    if (m.source === 'llm') return 'the model, given ' + (ids || 'no entry');
    if (m.source === 'fallback') return ids ? 'no confident answer (nearest ' + ids + ', ' + score + ')' : 'no confident answer (nothing near)';
    return m.source;
  }

  // ---------------------------------------------------------------- media

  function fmtSize(n) {
    n = Number(n) || 0;
    if (n >= 1048576) return (n / 1048576).toFixed(1) + ' MB';
    if (n >= 1024) return Math.round(n / 1024) + ' KB';
    return n + ' bytes';
  }

  // served by wachatd from its local store, through the same /agent/api/
  function mediaUrl(md) { return BASE + 'media/' + encodeURIComponent(md.id); }

  // A customer's picture, voice note, video, document or sticker: shown,
  // played or offered for download; or why it could not be kept.
  function mediaNode(m) {
    const md = m.media;
    const kind = m.type || 'media';
    if (!md.url || md.state !== 'stored') {
      return h('div', { class: 'media failed', dataset: { media: 'failed' } },
        h('span', { class: 'kind', text: '[' + kind + ']' }),
        ' not downloaded' + (md.error ? ': ' + md.error : ''));
    }
    const url = mediaUrl(md);
    const mime = md.mime || '';
    const label = md.name || (md.voice ? 'voice note' : kind);
    let node;
    if (/^image\/(jpeg|png|webp|gif)$/.test(mime)) {
      node = h('a', { href: url, target: '_blank', rel: 'noopener', title: 'Open the ' + kind },
        h('img', { class: 'media-img' + (kind === 'sticker' ? ' sticker' : ''), src: url,
                   alt: kind === 'sticker' ? 'sticker' : 'picture from the customer', loading: 'lazy' }));
    } else if (mime.startsWith('audio/')) {
      node = h('audio', { controls: true, preload: 'metadata', src: url, title: label });
    } else if (mime.startsWith('video/')) {
      node = h('video', { controls: true, preload: 'metadata', src: url, class: 'media-video' });
    } else {
      node = h('a', { class: 'media-doc', href: url, download: md.name || md.id },
        h('span', { class: 'doc-icon', 'aria-hidden': 'true', text: '\u{1F4C4}' }),
        h('span', { class: 'doc-name', text: md.name || 'document' }),
        h('span', { class: 'doc-size', text: md.size ? fmtSize(md.size) : '' }));
    }
    return h('div', { class: 'media', dataset: { media: kind } }, node,
      md.transcript ? h('div', { class: 'transcript', dir: 'auto' },
        h('span', { class: 'tag', text: 'Transcript' }), ' ', md.transcript) : null);
  }

  // a location as a link to the map, never an embedded third-party frame
  function locationNode(loc) {
    const lat = Number(loc.lat), lon = Number(loc.lon);
    const url = 'https://www.openstreetmap.org/?mlat=' + lat + '&mlon=' + lon
      + '#map=16/' + lat + '/' + lon;
    const what = [loc.name, loc.address].filter(Boolean).join(' \u2014 ')
      || lat.toFixed(5) + ', ' + lon.toFixed(5);
    return h('a', { class: 'location', href: url, target: '_blank', rel: 'noopener noreferrer',
                    title: 'Open the map (OpenStreetMap)' },
      h('span', { 'aria-hidden': 'true', text: '\u{1F4CD} ' }), what);
  }

  function contactNode(ct) {
    return h('div', { class: 'contact-card' },
      h('div', { class: 'contact-name', text: ct.name || 'contact' }),
      ct.phones ? h('div', { class: 'contact-phones', text: ct.phones }) : null);
  }

  // wamid -> the emoji the customer put on it (the last one wins, as in
  // WhatsApp; an empty emoji takes it away)
  function reactionsOf(list) {
    const r = new Map();
    for (const m of list) {
      if (m.type === 'reaction' && m.react_to) {
        if (m.text) r.set(m.react_to, m.text); else r.delete(m.react_to);
      }
    }
    return r;
  }

  // history nodes by key: a day, or a message with its status (a new status
  // rebuilds that message only)
  let histEls = new Map();

  function buildMessage(m, c, reaction) {
    const ts = Number(m.ts_ms) || 0;
    const w = whoOf(m, c);
    const dir = m.dir === 'in' ? 'in' : m.dir === 'note' ? 'note' : 'out';
    const hasText = typeof m.text === 'string' && m.text !== '';
    const extra = m.media ? mediaNode(m)
      : m.location ? locationNode(m.location)
      : m.contact ? contactNode(m.contact) : null;
    const reacts = m.type === 'reaction';
    const bubble = h('div', { class: 'bubble', dir: 'auto' },
      extra,
      reacts ? h('div', { class: 'kind', text: m.text ? 'reacted ' + m.text + ' to a message' : 'took a reaction back' }) : null,
      hasText && !reacts ? h('div', { class: 'text', text: m.text }) : null,
      !hasText && !extra && !reacts ? h('div', { class: 'kind', text: '[' + (m.type || 'message') + ']' }) : null,
      Array.isArray(m.buttons) && m.buttons.length
        ? h('div', { class: 'buttons' }, ...m.buttons.map((b) => h('span', { text: b }))) : null,
      h('div', { class: 'foot' },
        h('time', { text: ts ? fmtTime.format(ts) : '', title: ts ? fmtFull.format(ts) : '' }),
        dir === 'out' ? tick(m) : null));
    return h('div', {
      class: 'msg ' + dir + ' ' + w.cls + (reacts ? ' reaction' : ''),
      dataset: { id: m.id || '', who: m.who || '', status: m.status || '', type: m.type || '' },
    },
    h('div', { class: 'who' }, h('span', { class: 'tag', text: w.tag }), h('span', { text: w.label })),
    bubble,
    reaction ? h('div', { class: 'reacted', title: 'The customer reacted ' + reaction, text: reaction }) : null,
    w.cls === 'ai' && describeSource(m)
      ? h('div', { class: 'source' + (m.source === 'fallback' ? ' miss' : ''), text: describeSource(m) }) : null,
    w.cls === 'agent' && w.agent && S.me && w.agent === S.me.id && m.text
      ? h('button', { type: 'button', class: 'save-answer', dataset: { id: m.id || '' },
        title: 'Save this reply, with the question before it, as a knowledge base entry', text: 'Save as answer' }) : null,
    m.status === 'failed'
      ? h('div', { class: 'error', text: 'Not delivered' + (m.error_code ? ' (WhatsApp error ' + m.error_code + ')' : '')
          + (m.error_text ? ': ' + m.error_text : '') })
      : null);
  }

  function renderHistory(c, first) {
    const list = Array.isArray(c.history) ? c.history : [];
    const stick = first || atBottom();
    const before = ui.history.scrollTop;
    const prevCount = Number(ui.history.dataset.count || 0);
    const reactions = reactionsOf(list);
    const wanted = [];
    let lastDay = -1;
    list.forEach((m, i) => {
      const ts = Number(m.ts_ms) || 0;
      const day = startOfDay(ts);
      if (ts && day !== lastDay) {
        wanted.push(['d' + day, () => h('div', { class: 'day' }, h('span', { text: dayLabel(ts) }))]);
        lastDay = day;
      }
      const reaction = m.wamid ? reactions.get(m.wamid) || '' : '';
      const key = 'm' + (m.id || '#' + i) + '|' + (m.status || '') + '|' + (m.error_code || '')
        + '|' + (m.who || '') + '|' + (S.me ? S.me.id : '') + '|' + (c.name || '') + '|' + reaction;
      wanted.push([key, () => buildMessage(m, c, reaction)]);
    });
    if (!list.length) wanted.push(['empty', () => h('div', { class: 'empty', text: 'No messages yet.' })]);

    const next = new Map();
    wanted.forEach(([key, build], i) => {
      const el = histEls.get(key) || build();
      next.set(key, el);
      const at = ui.history.children[i];
      if (at !== el) ui.history.insertBefore(el, at || null);
    });
    while (ui.history.children.length > wanted.length) ui.history.lastElementChild.remove();
    histEls = next;

    ui.history.dataset.count = String(list.length);
    if (stick) {
      ui.history.scrollTop = ui.history.scrollHeight;
      ui.newBelow.hidden = true;
    } else {
      ui.history.scrollTop = before;
      if (list.length > prevCount) ui.newBelow.hidden = false;
    }
  }

  // ------------------------------------------------------------- actions

  async function act(what, button) {
    const id = S.openId;
    if (!id) return;
    button.disabled = true;
    try {
      await api('POST', convPath(id) + '/' + what);
      toast(what === 'take' ? 'The conversation is yours.' : 'Resolved: the assistant answers this customer again.');
      schedule(true, true);
      if (what === 'take') ui.reply.focus();
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      button.disabled = false;
    }
  }

  async function fillTransfer() {
    try {
      const r = await api('GET', 'agents');
      const keep = ui.transfer.value;
      while (ui.transfer.options.length > 1) ui.transfer.remove(1);
      for (const a of (r && r.agents) || []) {
        if (S.me && a.id === S.me.id) continue;
        const o = h('option', { value: a.id,
          text: (a.name || a.id) + ' · ' + a.presence + ' · ' + a.holds + '/' + a.capacity });
        ui.transfer.append(o);
      }
      ui.transfer.value = keep;
    } catch (e) { /* the list stays as it was; the change handler reports */ }
  }

  async function transfer(to) {
    const id = S.openId;
    if (!id || !to) return;
    ui.transfer.disabled = true;
    try {
      await api('POST', convPath(id) + '/transfer', { to });
      toast('Transferred to ' + to + '.');
      schedule(true, true);
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      ui.transfer.value = '';
      ui.transfer.disabled = false;
    }
  }

  async function send() {
    const id = S.openId;
    const text = ui.reply.value;
    const file = ui.asNote.checked ? null : S.file;
    if (!id || S.sending || (!text.trim() && !file) || ui.reply.disabled) return;
    S.sending = true;
    ui.send.disabled = true;
    ui.composeError.textContent = '';
    try {
      const asNote = ui.asNote.checked;
      if (file) await sendFile(id, file, text.trim());
      else await api('POST', convPath(id) + (asNote ? '/note' : '/reply'), { text });
      if (S.openId === id) {
        ui.reply.value = '';
        autosize();
        if (file) setFile(null);
      }
      S.drafts.delete(id);
      storeDrafts();
      schedule(true, true);
    } catch (e) {
      // the text stays in the box, with the reason next to it
      if (S.openId === id) ui.composeError.textContent = e.message;
      else toast(e.message, 'error');
    } finally {
      S.sending = false;
      if (S.conv) paintComposer(S.conv);
      else ui.send.disabled = false;
      if (S.openId === id) ui.reply.focus();
    }
  }

  function autosize() {
    const t = ui.reply;
    t.style.height = 'auto';
    t.style.height = Math.min(t.scrollHeight + 2, window.innerHeight * 0.4) + 'px';
  }

  // ------------------------------------------------- refresh scheduling

  // Events arrive in bursts (a message, its mode change, a status): one
  // refresh for each burst, never two of the same kind at once.
  const pending = { list: false, conv: false };
  let flushTimer = 0;
  let flushing = false;

  function schedule(list, conv) {
    pending.list = pending.list || list;
    pending.conv = pending.conv || conv;
    if (!flushTimer) flushTimer = setTimeout(flush, 80);
  }

  async function flush() {
    flushTimer = 0;
    if (flushing) { flushTimer = setTimeout(flush, 80); return; }
    const p = { list: pending.list, conv: pending.conv };
    pending.list = pending.conv = false;
    if (!p.list && !p.conv) return;
    flushing = true;
    try {
      await Promise.all([
        p.list ? refreshList().catch(report) : null,
        p.conv ? refreshConv(false).catch(report) : null,
      ]);
    } finally {
      flushing = false;
    }
  }

  let lastReport = '';
  function report(e) {
    // one toast per distinct problem, not one per event
    if (e.message !== lastReport) toast(e.message, 'error');
    lastReport = e.message;
    setTimeout(() => { lastReport = ''; }, 15000);
  }

  // ----------------------------------------------------------- live feed

  let es = null;
  let retryMs = 2000;
  let pollTimer = 0;

  function setConn(state, text) {
    ui.conn.dataset.state = state;
    ui.conn.textContent = text;
  }

  function connect() {
    if (es) es.close();
    setConn('connecting', 'connecting…');
    es = new EventSource(BASE + 'events');
    es.onopen = () => {
      S.live = true;
      retryMs = 2000;
      clearInterval(pollTimer);
      pollTimer = 0;
      setConn('live', 'live');
      schedule(true, true);     // whatever happened while we were away
    };
    es.onerror = () => {
      S.live = false;
      setConn('down', 'reconnecting…');
      // without the feed, look every 15 s so nothing is missed
      if (!pollTimer) pollTimer = setInterval(() => schedule(true, true), 15000);
      if (es.readyState === EventSource.CLOSED) {
        // the server refused (HTTP error): the browser does not retry, we do
        es.close();
        es = null;
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      }
    };
    for (const type of ['message', 'reply', 'mode', 'presence', 'status', 'read', 'reset', 'note']) {
      es.addEventListener(type, (ev) => onEvent(type, ev));
    }
  }

  // ------------------------------------------------------------- alerts

  // Opt-in: a notification and a short tone when a customer starts waiting
  // for a person (or the queue gives this agent one) and the tab is hidden.
  function alertsOn() { return localStorage.getItem('wachat.alerts') === '1'; }

  function paintAlerts() {
    const on = alertsOn();
    ui.notifyToggle.setAttribute('aria-pressed', String(on));
    ui.notifyToggle.textContent = on ? '🔔 Alerts on' : '🔕 Alerts off';
  }

  async function toggleAlerts() {
    if (alertsOn()) {
      localStorage.removeItem('wachat.alerts');
    } else {
      if ('Notification' in window && Notification.permission === 'default') {
        try { await Notification.requestPermission(); } catch (e) { /* the tone still plays */ }
      }
      localStorage.setItem('wachat.alerts', '1');
    }
    paintAlerts();
  }

  function tone() {
    try {
      const ctx = new (window.AudioContext || window.webkitAudioContext)();
      const o = ctx.createOscillator();
      const g = ctx.createGain();
      o.frequency.value = 880;
      g.gain.setValueAtTime(0.15, ctx.currentTime);
      g.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.4);
      o.connect(g).connect(ctx.destination);
      o.start();
      o.stop(ctx.currentTime + 0.4);
    } catch (e) { /* no audio: the notification says it */ }
  }

  function alertWaiting(d) {
    const mine = d.mode === 'agent' && S.me && d.agent === S.me.id && d.by === 'queue';
    if (!alertsOn() || !(d.mode === 'waiting_agent' || mine)) return;
    S.alerts = (S.alerts || 0) + 1;
    document.body.dataset.alerts = String(S.alerts);     // what a test can see
    if (!document.hidden) return;
    tone();
    if ('Notification' in window && Notification.permission === 'granted') {
      const n = new Notification(mine ? 'A waiting customer is yours' : 'A customer is waiting for a person',
        { body: d.conv ? d.conv.split(':').pop() : '', tag: 'wachat-' + (d.conv || '') });
      n.onclick = () => { window.focus(); if (d.conv) location.hash = '#/c/' + encodeURIComponent(d.conv); };
    }
  }

  // ------------------------------------------------------ canned replies

  let cannedList = null;
  let cannedAt = 0;

  async function cannedShow() {
    const v = ui.reply.value;
    if (!/^\/[\w-]*$/.test(v)) { ui.canned.hidden = true; return; }
    if (!cannedList) {
      try { cannedList = ((await api('GET', 'canned')) || {}).canned || []; } catch (e) { cannedList = []; }
    }
    const f = v.slice(1).toLowerCase();
    const shown = cannedList.filter((c) => c.name.toLowerCase().includes(f)).slice(0, 8);
    cannedAt = Math.min(cannedAt, Math.max(shown.length - 1, 0));
    ui.canned.replaceChildren(...shown.map((c, i) => h('li', {
      role: 'option', class: i === cannedAt ? 'on' : '', 'aria-selected': String(i === cannedAt),
      dataset: { text: c.text } },
    h('b', { text: '/' + c.name }), ' ', h('span', { text: c.text.slice(0, 90) }))));
    ui.canned.hidden = !shown.length;
  }

  function cannedPick(li) {
    if (!li) return;
    ui.reply.value = li.dataset.text;
    ui.canned.hidden = true;
    autosize();
    saveDraft();
  }

  // ------------------------------------------------------- server search

  let searchTimer = 0;
  let searchSeq = 0;

  function searchServer() {
    clearTimeout(searchTimer);
    const q = ui.search.value.trim();
    if (q.length < 2) { ui.searchHits.hidden = true; return; }
    searchTimer = setTimeout(async () => {
      const seq = ++searchSeq;
      try {
        const r = await api('GET', 'search?q=' + encodeURIComponent(q));
        if (seq !== searchSeq) return;
        const hits = (r && r.hits) || [];
        ui.searchHitsList.replaceChildren(...hits.map((x) => h('li', {},
          h('a', { href: '#/c/' + encodeURIComponent(x.conv), dir: 'auto' },
            h('b', { text: x.conv.split(':').pop() }), ' ', x.text.slice(0, 120)))));
        ui.searchHits.hidden = !hits.length;
      } catch (e) { ui.searchHits.hidden = true; }
    }, 300);
  }

  function onEvent(type, ev) {
    let d = {};
    try { d = JSON.parse(ev.data) || {}; } catch (e) { d = {}; }
    if (type === 'mode') alertWaiting(d);
    if (type === 'presence') {
      if (S.me && d.agent === S.me.id && d.presence) {
        S.presence = d.presence;
        paintPresence();
      }
      return;
    }
    if (type === 'reset') {           // too much was missed: reload all
      schedule(true, true);
      return;
    }
    const forOpen = !d.conv || d.conv === S.openId;
    // a delivery status changes ticks only, which the list does not show;
    // a conversation read elsewhere changes the list only
    schedule(type !== 'status', forOpen && type !== 'read');
  }

  // ------------------------------------------------------------- events

  ui.presence.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-presence]');
    if (b && b.dataset.presence !== S.presence) setPresence(b.dataset.presence);
  });

  document.querySelector('.filters').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-filter]');
    if (!b || b.dataset.filter === S.filter) return;
    S.filter = b.dataset.filter;
    localStorage.setItem('wachat.filter', S.filter);
    S.list = [];
    renderList();
    refreshList().catch(report);
  });

  ui.search.addEventListener('input', () => { S.query = ui.search.value; renderList(); searchServer(); });
  ui.search.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { ui.search.value = ''; S.query = ''; renderList(); ui.search.blur(); }
    if (e.key === 'Enter') {
      const first = ui.list.querySelector('a.conv-item');
      if (first) location.hash = first.getAttribute('href');
    }
  });

  ui.take.addEventListener('click', () => act('take', ui.take));
  ui.asNote.addEventListener('change', () => { if (S.conv) paintComposer(S.conv); ui.reply.focus(); });
  ui.tplSelect.addEventListener('change', paintTemplate);
  ui.tplRefresh.addEventListener('click', () => loadTemplates(true));
  ui.tplSend.addEventListener('click', sendTemplate);
  ui.attach.addEventListener('click', () => ui.fileInput.click());
  ui.fileInput.addEventListener('change', () => setFile(ui.fileInput.files[0]));
  ui.detach.addEventListener('click', () => setFile(null));
  // a file dropped on the conversation is attached, if a reply could go
  for (const el of [ui.history, ui.composer]) {
    el.addEventListener('dragover', (e) => {
      if (!e.dataTransfer || ![...e.dataTransfer.types].includes('Files') || ui.attach.disabled) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
      ui.composer.classList.add('dropping');
    });
    el.addEventListener('dragleave', () => ui.composer.classList.remove('dropping'));
    el.addEventListener('drop', (e) => {
      ui.composer.classList.remove('dropping');
      if (!e.dataTransfer || !e.dataTransfer.files.length || ui.attach.disabled) return;
      e.preventDefault();
      setFile(e.dataTransfer.files[0]);
    });
  }
  // the colleagues are read when the list is opened, so presence is fresh
  ui.transfer.addEventListener('focus', fillTransfer);
  ui.transfer.addEventListener('mousedown', fillTransfer);
  ui.transfer.addEventListener('change', () => transfer(ui.transfer.value));
  ui.resolve.addEventListener('click', () => act('resolve', ui.resolve));
  ui.back.addEventListener('click', () => { location.hash = ''; });
  ui.newBelow.addEventListener('click', () => {
    ui.history.scrollTop = ui.history.scrollHeight;
    ui.newBelow.hidden = true;
  });
  ui.history.addEventListener('scroll', () => { if (atBottom()) ui.newBelow.hidden = true; });

  ui.composer.addEventListener('submit', (e) => { e.preventDefault(); send(); });
  ui.reply.addEventListener('keydown', (e) => {
    if (!ui.canned.hidden) {
      const items = [...ui.canned.children];
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        cannedAt = (cannedAt + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
        items.forEach((li, i) => { li.className = i === cannedAt ? 'on' : ''; });
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') { e.preventDefault(); cannedPick(items[cannedAt]); return; }
      if (e.key === 'Escape') { ui.canned.hidden = true; return; }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  ui.canned.addEventListener('mousedown', (e) => { e.preventDefault(); cannedPick(e.target.closest('li')); });
  ui.notifyToggle.addEventListener('click', toggleAlerts);
  paintAlerts();
  ui.reply.addEventListener('input', () => {
    cannedAt = 0;
    cannedShow();
    autosize();
    ui.composeError.textContent = '';
    saveDraft();              // survives switching conversations and reloads
  });

  window.addEventListener('hashchange', openFromHash);
  ui.insightSince.addEventListener('change', showInsight);
  ui.insightList.addEventListener('click', (e) => {
    const b = e.target.closest('button.write-answer');
    if (b) writeAnswer(b.dataset.q, '');
    const p = e.target.closest('button.add-picked');
    if (p) addPicked(p);
  });
  ui.kbFilter.addEventListener('input', paintKb);
  ui.kbList.addEventListener('submit', (e) => {
    const f = e.target.closest('form.kb-also');
    if (f) { e.preventDefault(); addPhrasing(f); }
  });
  ui.kbTry.addEventListener('submit', (e) => { e.preventDefault(); tryQuestion(); });
  ui.kbAdd.addEventListener('submit', (e) => { e.preventDefault(); addAnswer(); });
  // an agent's own reply, with the customer's message before it, as an entry
  ui.history.addEventListener('click', (e) => {
    const b = e.target.closest('button.save-answer');
    if (!b || !S.conv) return;
    const list = S.conv.history || [];
    const i = list.findIndex((m) => m.id === b.dataset.id);
    let q = '';
    for (let k = i - 1; k >= 0; k--) {
      if (list[k].dir === 'in' && list[k].text) { q = list[k].text; break; }
    }
    writeAnswer(q, i >= 0 ? list[i].text : '');
  });

  document.addEventListener('keydown', (e) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement && document.activeElement.tagName);
    if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      ui.search.focus();
      ui.search.select();
    } else if (e.altKey && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      const items = [...ui.list.querySelectorAll('a.conv-item')];
      if (!items.length) return;
      e.preventDefault();
      let i = items.findIndex((a) => a.dataset.id === S.openId);
      i = e.key === 'ArrowDown' ? Math.min(i + 1, items.length - 1) : Math.max(i - 1, 0);
      location.hash = items[i].getAttribute('href');
    }
  });

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') { heartbeat(); schedule(true, true); }
  });

  // the time left in every window, how long customers wait: every 30 s,
  // from what we have (no request)
  setInterval(() => {
    renderList();
    if (S.conv) {
      paintWindow(ui.window, S.conv.window_closes_at, true);
      paintComposer(S.conv);
    }
  }, 30000);

  // --------------------------------------------------------------- start

  async function start() {
    let me;
    for (;;) {
      try {
        me = await api('GET', 'me');
        break;
      } catch (e) {
        ui.fatal.textContent = e.message + (e.status === 401 ? '' : ' Retrying…');
        ui.fatal.hidden = false;
        if (e.status === 401 || e.status === 403) return;
        await new Promise((r) => setTimeout(r, 5000));
      }
    }
    ui.fatal.hidden = true;
    S.me = me || {};
    S.presence = S.me.presence || 'offline';
    ui.meName.textContent = S.me.name || S.me.id || '';
    ui.meName.title = S.me.id ? 'agent id ' + S.me.id : '';
    paintPresence();
    document.body.dataset.ready = '1';

    // well inside the server's heartbeat timeout
    const timeout = Number(S.me.heartbeat_timeout_ms) || 0;
    heartbeat();
    setInterval(heartbeat, timeout > 0 ? Math.min(HEARTBEAT_MS, Math.max(2000, timeout / 3)) : HEARTBEAT_MS);
    renderList();
    refreshList().catch(report);
    openFromHash();
    connect();
  }

  start();
})();
