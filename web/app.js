// suda's web client. One WebSocket at /ws; each text frame is one line,
// both ways, exactly the lines a terminal client sees. Everything here is
// built from those lines: the join prompt, who is online, the command list.
'use strict';

const $ = (id) => document.getElementById(id);
const logEl = $('log');
const input = $('input');
const MAX_LINES = 2000;
const PROMPT = 'Enter your nickname:';
const SERVER = '[Server]: ';

const state = {
  ws: null,
  nick: sessionStorage.getItem('suda.nick') || '',
  password: '',
  joined: false,
  autoJoin: false,      // send `nick` (and `password`) at the next prompt
  delay: 1000,          // the next reconnect's wait (doubles up to 30 s)
  timer: null,
  left: false,          // the person said /exit: no reconnect
  quiet: { users: 0, help: 0 }, // answers asked for by the page, not shown
  inHelp: false,
  helpShown: true,
  composing: false,
  uploads: [],          // files waiting for their upload address
  users: new Map(),     // lower-cased nick -> shown nick
};

// ---- connection -----------------------------------------------------------

function connect() {
  clearTimeout(state.timer);
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  let ws;
  try {
    ws = new WebSocket(scheme + location.host + '/ws');
  } catch (e) {
    return down('The chat cannot be reached from this page.');
  }
  state.ws = ws;
  status('Connecting…');
  ws.onopen = () => {
    state.delay = 1000;
    status(state.nick ? 'Connected' : 'Connected: choose a nickname');
    $('retry').hidden = true;
  };
  ws.onmessage = (ev) => { if (typeof ev.data === 'string') line(unstamped(ev.data)); };
  ws.onclose = (ev) => {
    if (state.ws !== ws) return;
    state.ws = null;
    const was = state.joined;
    state.joined = false;
    if (state.left) return status('You left the chat. Reload the page to join again.', true);
    if (ev.code === 1009) note('The server closed the connection: that line was too long.', 'error');
    if (was) note('Connection lost. Reconnecting…', 'error');
    retryLater();
  };
}

function retryLater() {
  const wait = state.delay;
  state.delay = Math.min(state.delay * 2, 30000);
  const jitter = Math.round(wait * (0.75 + Math.random() * 0.5));
  let left = Math.ceil(jitter / 1000);
  down(`The server is unreachable. Retrying in ${left} s…`);
  $('retry').hidden = false;
  clearInterval(state.tick);
  state.tick = setInterval(() => {
    left -= 1;
    if (left > 0) down(`The server is unreachable. Retrying in ${left} s…`);
    else clearInterval(state.tick);
  }, 1000);
  state.timer = setTimeout(() => { clearInterval(state.tick); connect(); }, jitter);
}

function send(text) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
  state.ws.send(text);
  return true;
}

function status(text, bad) {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('down', !!bad);
}
function down(text) { status(text, true); }

// ---- what the server says ---------------------------------------------------

// A server run with --timestamps starts every line with `[YYYY-MM-DD HH:MM] `:
// the page shows its own local time beside each line, and reads the rest.
function unstamped(text) {
  return text.replace(/^\[\d{4}-\d\d-\d\d \d\d:\d\d\] /, '');
}

function line(text) {
  if (!state.joined) return beforeJoin(text);
  if (text.startsWith(SERVER)) {
    const body = text.slice(SERVER.length);
    if (answersHelp(body)) return;
    if (answersUsers(body)) return;
    followPeople(body);
    if (uploadAddress(body)) return;
    // An /upload the server turned down gets no address: forget its file.
    if (/^(File sharing is off|Upload refused|Usage: \/upload)/.test(body)) state.uploads.shift();
    if (/^Bye(, .*)?!$/.test(body)) state.left = true;
  }
  show(text);
}

// Before the welcome: the banner, the password and nickname prompts.
function beforeJoin(text) {
  if (!text.startsWith(SERVER)) return show(text);
  const body = text.slice(SERVER.length);
  if (body.startsWith('Welcome, ') && body.endsWith('! Type /help for commands.')) {
    const nick = body.slice('Welcome, '.length, -'! Type /help for commands.'.length);
    joined(nick);
    return show(text);
  }
  if (body === 'Enter the room password:' || body.endsWith(' Enter the room password:')) {
    const err = body.slice(0, -'Enter the room password:'.length).trim();
    $('password-row').hidden = false;
    if (state.password && !err && state.autoJoin) return send(state.password);
    state.password = '';
    return askNick(err);
  }
  if (body.endsWith(PROMPT)) {
    const err = body.slice(0, -PROMPT.length).trim();
    if (!err && state.nick && state.autoJoin) {
      state.autoJoin = false;
      return send(state.nick);
    }
    return askNick(err);
  }
  if (body.startsWith('You are banned')) return askNick(body);
  show(text);
}

function askNick(error) {
  state.autoJoin = false;
  $('join').hidden = false;
  $('room').hidden = true;
  $('join-error').textContent = error;
  status('Connected: choose a nickname');
  const nick = $('nick');
  if (!nick.value && state.nick) nick.value = state.nick;
  nick.focus();
}

function joined(nick) {
  state.joined = true;
  state.nick = nick;
  state.autoJoin = true;   // after a drop, join again under the same name
  sessionStorage.setItem('suda.nick', nick);
  $('join').hidden = true;
  $('room').hidden = false;
  status(`Connected as ${nick}`);
  $('retry').hidden = true;
  state.quiet.users += 1;
  send('/users');
  if (!$('commands').children.length) {
    state.quiet.help += 1;
    send('/help');
  }
  input.focus();
}

// `/help`: the lines between "Commands:" and "Anything else..." make the list.
function answersHelp(body) {
  if (body === 'Commands:') {
    state.inHelp = true;
    state.helpShown = state.quiet.help === 0;
    if (!state.helpShown) state.quiet.help -= 1;
    $('commands').textContent = '';
    return !state.helpShown;
  }
  if (!state.inHelp) return false;
  if (body.startsWith('Anything else')) {
    state.inHelp = false;
    return !state.helpShown;
  }
  const m = body.match(/^\s+(\/\S+(?: \S+)*?)\s{2,}(.*)$/);
  if (m) {
    const li = document.createElement('li');
    const code = document.createElement('code');
    code.textContent = m[1];
    code.title = 'Put it in the message box';
    code.addEventListener('click', () => {
      input.value = m[1].split(' ')[0] + ' ';
      input.focus();
    });
    li.append(code, ' ', m[2]);
    $('commands').append(li);
  }
  return !state.helpShown;
}

// `[Server]: Users online (n/max): Alice (admin), Bob`
function answersUsers(body) {
  const m = body.match(/^Users online \((\d+)\/(\d+)\): (.*)$/);
  if (!m) return false;
  state.users.clear();
  for (const entry of m[3].split(', ')) {
    const name = entry.replace(/ \(admin\)$/, '');
    if (name) state.users.set(name.toLowerCase(), entry);
  }
  drawUsers();
  if (state.quiet.users > 0) {
    state.quiet.users -= 1;
    return true;
  }
  return false;
}

// Joins, leaves and renames keep the list current between two /users.
function followPeople(body) {
  let m;
  if ((m = body.match(/^(\S+) has joined the chat\.$/))) {
    state.users.set(m[1].toLowerCase(), m[1]);
  } else if ((m = body.match(/^(\S+) has left the chat\.$/))) {
    state.users.delete(m[1].toLowerCase());
  } else if ((m = body.match(/^User "(\S+)" has changed their nickname to "(\S+)"\.$/))) {
    const was = state.users.get(m[1].toLowerCase()) || m[2];
    state.users.delete(m[1].toLowerCase());
    state.users.set(m[2].toLowerCase(), was.replace(m[1], m[2]));
  } else if (/^\d+ (joined|left) the chat: /.test(body) || / is now the admin\.$/.test(body) || /kicked/.test(body)) {
    // Crowds are summarised and admins change: ask for the exact list.
    state.quiet.users += 1;
    send('/users');
    return;
  } else if ((m = body.match(/^You are now known as (\S+)\.$/))) {
    state.nick = m[1];
  } else {
    return;
  }
  drawUsers();
}

function drawUsers() {
  const ul = $('users');
  ul.textContent = '';
  for (const [key, entry] of state.users) {
    const li = document.createElement('li');
    li.textContent = entry;
    if (key === state.nick.toLowerCase()) li.className = 'me';
    ul.append(li);
  }
  $('count').textContent = `(${state.users.size})`;
}

// ---- the log ----------------------------------------------------------------

function kind(text) {
  if (text.startsWith('[Whisper ')) return 'whisper';
  if (text.startsWith('[AI] ')) return 'ai';
  if (text.startsWith('[File from ')) return 'file';
  if (text.startsWith(SERVER)) return 'server';
  return 'chat';
}

function show(text, extra) {
  const stick = logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 48;
  const li = document.createElement('li');
  const k = extra || kind(text);
  li.className = k;
  if (state.replaying) li.classList.add('replay');
  const time = document.createElement('time');
  const now = new Date();
  time.dateTime = now.toISOString();
  time.textContent = now.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  li.append(time);
  if (k === 'file') fileLine(li, text);
  else if (k === 'chat' || k === 'mine') chatLine(li, text);
  else li.append(text);
  if (text.startsWith(SERVER + 'Earlier messages (') || text.startsWith(SERVER + 'Messages since you left (')) {
    state.replaying = true;
  } else if (text === SERVER + 'End of earlier messages.') {
    state.replaying = false;
  }
  logEl.append(li);
  while (logEl.children.length > MAX_LINES) logEl.firstChild.remove();
  if (stick) logEl.scrollTop = logEl.scrollHeight;
  else $('jump').hidden = false;
}

function chatLine(li, text) {
  const cut = text.indexOf(' >> ');
  if (cut > 0 && cut <= 40) {
    const nick = document.createElement('span');
    nick.className = 'nick';
    nick.textContent = text.slice(0, cut);
    li.append(nick, text.slice(cut));
  } else {
    li.append(text);
  }
}

// `[File from <nick>] <name> (<size>) <url>/f/<id>/<name>`: the name links.
function fileLine(li, text) {
  const m = text.match(/^(\[File from [^\]]+\]) (.+) \(([^()]+)\) (https?:\/\/\S+)$/);
  if (!m) return li.append(text);
  const a = document.createElement('a');
  a.href = m[4];
  a.textContent = m[2];
  a.download = m[2];
  a.rel = 'noopener noreferrer';
  li.append(m[1] + ' ', a, ` (${m[3]})`);
}

function note(text, cls) { show(text, cls || 'local'); }

logEl.addEventListener('scroll', () => {
  if (logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 48) $('jump').hidden = true;
});
$('jump').addEventListener('click', () => {
  logEl.scrollTop = logEl.scrollHeight;
  $('jump').hidden = true;
});

// ---- typing -------------------------------------------------------------------

// An IME (Hangul, Japanese...) uses Enter to finish a syllable: that Enter
// must never send the half-typed line.
input.addEventListener('compositionstart', () => { state.composing = true; });
input.addEventListener('compositionend', () => {
  // Some browsers fire keydown(Enter) right after compositionend.
  setTimeout(() => { state.composing = false; }, 0);
});
input.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.isComposing || state.composing || ev.keyCode === 229)) {
    ev.preventDefault();
    ev.stopPropagation();
  }
});

$('say').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (state.composing) return;
  const text = input.value.replace(/[\r\n]+/g, ' ');
  if (!text.trim()) return;
  if (!send(text)) {
    note('Not connected: your line is kept and can be sent once the chat is back.', 'error');
    return;
  }
  input.value = '';
  if (text.startsWith('/') && !text.startsWith('//')) {
    if (/^\/(exit|quit)\b/.test(text)) state.left = true;
    show('> ' + text, 'local');
  } else {
    show(`${state.nick} >> ${text.startsWith('//') ? text.slice(1) : text}`, 'mine');
  }
});

$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const nick = $('nick').value.trim();
  if (!nick) return;
  const pw = $('password');
  if (!$('password-row').hidden && pw.value) {
    state.password = pw.value;
    state.nick = nick;
    state.autoJoin = true;
    if (!send(state.password)) down('Not connected yet: try again in a moment.');
    return;
  }
  state.nick = nick;
  $('join-error').textContent = '';
  if (!send(nick)) down('Not connected yet: try again in a moment.');
});

$('retry').addEventListener('click', () => { state.delay = 1000; connect(); });

// ---- files ------------------------------------------------------------------

function share(files) {
  if (!state.joined) return;
  for (const file of files) {
    const name = file.name.replace(/[\r\n]/g, ' ');
    state.uploads.push({ name, file });
    if (!send('/upload ' + name)) {
      state.uploads.pop();
      note(`Not connected: ${name} was not shared.`, 'error');
    }
  }
}

// `[Server]: Upload within 10 minutes: curl -T '<name>' <url>/u/<token>`:
// the page PUTs the file itself, to its own origin (the token is what counts).
function uploadAddress(body) {
  const m = body.match(/^Upload within .*?: curl -T .* (\S+\/u\/([A-Za-z0-9_-]+))$/);
  if (!m || !state.uploads.length) return false;
  // Answers come in the order the /upload lines went out.
  const { name, file } = state.uploads.shift();
  note(`Uploading ${name}…`);
  fetch('/u/' + m[2], { method: 'PUT', body: file })
    .then((r) => {
      if (!r.ok) note(`The upload of ${name} failed (${r.status} ${r.statusText}).`, 'error');
    })
    .catch(() => note(`The upload of ${name} failed: the server could not be reached.`, 'error'));
  return true;
}

$('file').addEventListener('change', (ev) => {
  share(ev.target.files);
  ev.target.value = '';
});
let dragDepth = 0;
window.addEventListener('dragenter', (ev) => {
  if (!state.joined || !ev.dataTransfer || !ev.dataTransfer.types.includes('Files')) return;
  dragDepth += 1;
  $('drop').hidden = false;
});
window.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) $('drop').hidden = true;
});
window.addEventListener('dragover', (ev) => ev.preventDefault());
window.addEventListener('drop', (ev) => {
  ev.preventDefault();
  dragDepth = 0;
  $('drop').hidden = true;
  if (ev.dataTransfer && ev.dataTransfer.files.length) share(ev.dataTransfer.files);
});

if (window.matchMedia('(max-width: 640px)').matches) $('help').open = false;
state.autoJoin = !!state.nick;
connect();
