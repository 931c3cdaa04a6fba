// The web client in a real browser: Debian's Chromium driven by
// playwright-core, against the real server binary on a free port, with a
// raw TCP client (what nc would be) in the same room.
//
// Run: cargo build && (cd tests/browser && npm ci && npm test)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const SUDA = process.env.SUDA_BIN || path.join(root, 'target', 'debug', 'suda');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 10_000;

// ---- the server -------------------------------------------------------------

/** Whether the server at `addr` answers as suda (the banner within 2 s,
 * after the time a server run with --timestamps puts first). */
function answers(addr) {
  const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (ok) => { clearTimeout(timer); sock.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), 2000);
    sock.on('data', (d) => {
      got += d;
      if (/^(\[\d{4}-\d\d-\d\d \d\d:\d\d\] )?\[Server\]: Welcome to /.test(got)) done(true);
    });
    sock.on('error', () => done(false));
  });
}

/**
 * Starts `suda serve` and makes sure connections to its port reach it: in
 * this sandbox a fresh ephemeral port is now and then taken over by the
 * sandbox's own network layer, so a server that cannot be reached is
 * started again (on another free port, or on the same one after a pause).
 */
async function startServer(dir, bind = '127.0.0.1:0', extra = []) {
  for (let attempt = 1; ; attempt++) {
    const child = await launchServer(dir, bind, extra);
    if (await answers(child.addr)) return child;
    await stopServer(child);
    if (attempt === 4) throw new Error(`the server on ${child.addr} cannot be reached`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Starts `suda serve`; resolves once it prints where it listens. */
function launchServer(dir, bind, extra) {
  const args = ['serve', '--bind', bind, '--log-file', path.join(dir, 'chat.log'),
    '--state-file', path.join(dir, 'state.json'), '--timezone', 'UTC', '--verbosity', 'debug', ...extra];
  const child = spawn(SUDA, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill(); reject(new Error(`server did not start: ${err}`)); }, WAIT);
    child.stderr.on('data', (chunk) => {
      err += chunk;
      fs.appendFileSync(path.join(dir, 'stderr.log'), chunk);
      const m = err.match(/suda: listening on (\S+)/);
      if (m && !child.addr) {
        child.addr = m[1];
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); if (!child.addr) reject(new Error(`server exited ${code}: ${err}`)); });
  });
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), WAIT);
    child.on('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

// ---- an nc-style client -------------------------------------------------------

/** A raw TCP participant: lines in, lines out, every wait bounded. */
function rawClient(addr) {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  const sock = net.connect(port, host);
  sock.setEncoding('utf8');
  const lines = [];
  let buf = '';
  let waiters = [];
  sock.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
    }
    waiters = waiters.filter((w) => !w());
  });
  sock.on('error', () => {});
  const client = {
    lines,
    send: (text) => sock.write(text + '\n'),
    close: () => sock.destroy(),
    /** Waits for a line matching `want` (string or RegExp) past `from`. */
    waitFor(want, from = 0, timeout = WAIT) {
      const match = (l) => (typeof want === 'string' ? l === want : want.test(l));
      return new Promise((resolve, reject) => {
        const check = () => {
          const at = lines.findIndex((l, i) => i >= from && match(l));
          if (at >= 0) { clearTimeout(timer); resolve(at); return true; }
          return false;
        };
        const timer = setTimeout(() => reject(new Error(`no line ${want}; got ${JSON.stringify(lines)}`)), timeout);
        if (!check()) waiters.push(check);
      });
    },
  };
  return client;
}

async function rawJoin(addr, nick) {
  const c = rawClient(addr);
  await c.waitFor('[Server]: Enter your nickname:');
  c.send(nick);
  await c.waitFor(`[Server]: Welcome, ${nick}! Type /help for commands.`);
  return c;
}

// ---- the browser ---------------------------------------------------------------

let browser;
// launch() gives Chromium a fresh, throw-away profile of its own each run.
before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
});

async function openPage(addr, viewport = { width: 1000, height: 640 }) {
  const context = await browser.newContext({ viewport, locale: 'ko-KR' });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(`http://${addr}/`);
  return { page, context, problems };
}

async function webJoin(page, nick) {
  await page.waitForSelector('#nick', { state: 'visible' }).catch(async (e) => {
    const seen = await page.evaluate(() => document.body.innerText);
    throw new Error(`no nickname prompt: ${e.message}; the page shows: ${seen}`);
  });
  await page.fill('#nick', nick);
  await page.click('#join-button');
  await page.waitForSelector('#room:not([hidden])');
  await page.waitForFunction((n) => document.getElementById('status').textContent === `Connected as ${n}`, nick);
}

const logHas = (page, text, cls = '') =>
  page.waitForFunction(([t, c]) => [...document.querySelectorAll(`#log li${c}`)].some((li) => li.textContent.includes(t)), [text, cls]);

function tmpdir() { return fs.mkdtempSync(path.join(os.tmpdir(), 'suda-web-')); }

// ---- the tests -------------------------------------------------------------------

test('join, a taken nickname, chat with nc both ways in Hangul, whispers', async () => {
  const dir = tmpdir();
  const server = await startServer(dir);
  try {
    const nc = await rawJoin(server.addr, '철수');
    const { page, context, problems } = await openPage(server.addr);
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Connected'));
    // Taken (in any case or disguise): the prompt says so and stays.
    await page.fill('#nick', '철수');
    await page.click('#join-button');
    await page.waitForFunction(() => document.getElementById('join-error').textContent.includes('already in use'));
    assert.match(await page.textContent('#join-error'), /Nickname "철수" is already in use\./);
    await webJoin(page, '영희');
    await nc.waitFor('[Server]: 영희 has joined the chat.');
    // Who is online: both, from /users and the join line.
    await page.waitForFunction(() => [...document.querySelectorAll('#users li')].map((l) => l.textContent).join('|').includes('철수'));
    // The command list comes from /help.
    await page.waitForFunction(() => document.querySelectorAll('#commands li').length > 5);

    await page.fill('#input', '안녕하세요, 철수 씨!');
    await page.press('#input', 'Enter');
    await nc.waitFor('영희 >> 안녕하세요, 철수 씨!');
    assert.equal(await page.inputValue('#input'), '');
    nc.send('반가워요 영희 씨');
    await logHas(page, '철수 >> 반가워요 영희 씨', '.chat');

    // The typed line stays while messages arrive.
    await page.fill('#input', '쓰는 중');
    nc.send('방해');
    await logHas(page, '철수 >> 방해');
    assert.equal(await page.inputValue('#input'), '쓰는 중');
    await page.fill('#input', '');

    // Whispers, both ways, styled apart.
    nc.send('/w 영희 비밀이에요');
    await logHas(page, '[Whisper from 철수] 비밀이에요', '.whisper');
    await page.fill('#input', '/w 철수 나도 비밀');
    await page.press('#input', 'Enter');
    await nc.waitFor('[Whisper from 영희] 나도 비밀');
    // [Server] lines are styled apart too.
    assert.ok(await page.$('#log li.server'));
    // Local time on every line.
    assert.match(await page.textContent('#log li:last-child time'), /\d{1,2}.*\d{2}/);

    fs.mkdirSync(path.join(root, 'docs'), { recursive: true });
    await page.screenshot({ path: path.join(root, 'docs', 'web-desktop.png') });
    assert.deepEqual(problems, []);
    nc.close();
    await context.close();
  } finally {
    await stopServer(server);
  }
});

test('an upload from the page, a download in the page', async () => {
  const server = await startServer(tmpdir());
  try {
    const nc = await rawJoin(server.addr, 'nc');
    const { page, context, problems } = await openPage(server.addr);
    await webJoin(page, '영희');
    await nc.waitFor('[Server]: 영희 has joined the chat.');
    // The + button: the page asks for an address and PUTs the file there.
    const content = '숙제 파일입니다\n';
    await page.setInputFiles('#file', { name: '숙제.txt', mimeType: 'text/plain', buffer: Buffer.from(content) });
    const at = await nc.waitFor(/^\[File from 영희\] 숙제\.txt \(\d+ B\) http\S+$/);
    const url = nc.lines[at].split(' ').pop();
    const got = await fetch(url, { signal: AbortSignal.timeout(WAIT) });
    assert.equal(got.status, 200);
    assert.equal(await got.text(), content);
    await logHas(page, '[Server]: Shared 숙제.txt');

    // nc shares a file the curl way; the page shows it as a link that downloads.
    nc.send('/upload notes.txt');
    const offer = await nc.waitFor(/^\[Server\]: Upload within .*\/u\/\S+$/);
    const put = nc.lines[offer].split(' ').pop();
    const sent = await fetch(put, { method: 'PUT', body: 'from the terminal 터미널', signal: AbortSignal.timeout(WAIT) });
    assert.ok(sent.ok, `upload: ${sent.status}`);
    await page.waitForSelector('#log li.file a');
    assert.equal(await page.textContent('#log li.file a'), 'notes.txt');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#log li.file a')]);
    const saved = await download.path();
    assert.equal(fs.readFileSync(saved, 'utf8'), 'from the terminal 터미널');
    assert.deepEqual(problems, []);
    nc.close();
    await context.close();
  } finally {
    await stopServer(server);
  }
});

test('Hangul typed with an IME is never sent half-composed', async () => {
  const server = await startServer(tmpdir());
  try {
    const nc = await rawJoin(server.addr, 'nc');
    const { page, context } = await openPage(server.addr);
    await webJoin(page, '입력기');
    await nc.waitFor('[Server]: 입력기 has joined the chat.');
    const mark = nc.lines.length;
    await page.focus('#input');
    // The IME starts a syllable; Enter inside the composition finishes it.
    await page.dispatchEvent('#input', 'compositionstart', { data: '' });
    await page.fill('#input', '한그');
    await page.keyboard.press('Enter');
    await page.fill('#input', '한글');
    await page.keyboard.press('Enter');
    await page.dispatchEvent('#input', 'compositionend', { data: '글' });
    // Nothing went out: the room has heard nothing from the page.
    nc.send('/users');
    const at = await nc.waitFor(/^\[Server\]: Users online/, mark);
    assert.deepEqual(nc.lines.slice(mark, at), []);
    assert.equal(await page.inputValue('#input'), '한글');
    // The composition is over: now Enter sends the whole word.
    await page.waitForFunction(() => true);
    await page.keyboard.press('Enter');
    await nc.waitFor('입력기 >> 한글', mark);
    nc.close();
    await context.close();
  } finally {
    await stopServer(server);
  }
});

test('a server with --timestamps: the page still joins and reads its lines', async () => {
  const server = await startServer(tmpdir(), '127.0.0.1:0', ['--timestamps']);
  try {
    const nc = rawClient(server.addr);
    await nc.waitFor(/^\[\d{4}-\d\d-\d\d \d\d:\d\d\] \[Server\]: Enter your nickname:$/);
    nc.send('Teacher');
    await nc.waitFor(/\[Server\]: Welcome, Teacher!/);
    const { page, context, problems } = await openPage(server.addr);
    await webJoin(page, '학생');
    nc.send('안녕하세요');
    await logHas(page, 'Teacher >> 안녕하세요', '.chat');
    await page.fill('#input', '네!');
    await page.press('#input', 'Enter');
    await nc.waitFor(/\] 학생 >> 네!$/);
    assert.deepEqual(problems, []);
    nc.close();
    await context.close();
  } finally {
    await stopServer(server);
  }
});

test('a 360-pixel phone: no sideways scrolling', async () => {
  const server = await startServer(tmpdir());
  try {
    const nc = await rawJoin(server.addr, 'Teacher');
    const { page, context } = await openPage(server.addr, { width: 360, height: 740 });
    await webJoin(page, '학생');
    nc.send('오늘 숙제는 12쪽부터 15쪽까지입니다. https://example.invalid/a/very/long/address/that/does/not/break/anywhere/at/all/0123456789');
    await logHas(page, '오늘 숙제는');
    await page.fill('#input', '네, 알겠습니다!');
    await page.press('#input', 'Enter');
    await nc.waitFor('학생 >> 네, 알겠습니다!');
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 360, `the page is ${wide} px wide`);
    const log = await page.evaluate(() => { const l = document.getElementById('log'); return l.scrollWidth - l.clientWidth; });
    assert.ok(log <= 0, `the log scrolls sideways by ${log} px`);
    await page.screenshot({ path: path.join(root, 'docs', 'web-phone.png') });
    nc.close();
    await context.close();
  } finally {
    await stopServer(server);
  }
});

test('the page says the server is unreachable, then reconnects and rejoins', async () => {
  const dir = tmpdir();
  let server = await startServer(dir);
  const addr = server.addr;
  try {
    const { page, context } = await openPage(addr);
    await webJoin(page, '다시');
    await stopServer(server);
    await page.waitForFunction(() => /unreachable/.test(document.getElementById('status').textContent));
    assert.ok(await page.$('#status.down'));
    // The typed line survives the drop.
    await page.fill('#input', '돌아왔어요');
    server = await startServer(dir, addr);
    const nc = await rawJoin(addr, 'Watcher');
    // Retries after about 1, 2, 4, 8 s (each ±25 %): the server is back
    // within the third or fourth; the page joins again under the same name.
    await nc.waitFor('[Server]: 다시 has joined the chat.', 0, 25_000);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'Connected as 다시');
    assert.equal(await page.inputValue('#input'), '돌아왔어요');
    await page.press('#input', 'Enter');
    await nc.waitFor('다시 >> 돌아왔어요');
    nc.close();
    await context.close();
  } finally {
    await stopServer(server);
  }
});
