'use strict';
// A plain SMTP client over node:net: one message, one recipient, no TLS, no auth.
//
// Spelled out by hand (instead of nodemailer) so the crash scenarios can run code between the
// server's reply to MAIL FROM and the RCPT TO command. Refusals raise SmtpError with the reply
// code; a refused recipient gives the same message nodemailer would:
// "Can't send mail - all recipients were rejected: 550 …".

const net = require('node:net');

class SmtpError extends Error {
  constructor(message, responseCode) {
    super(message);
    this.name = 'SmtpError';
    this.responseCode = responseCode;
  }
}

// Opens a connection and returns {greeting, command(line), close()}; each call resolves with
// the next complete reply {code, text} (multi-line replies are joined).
function openConnection(host, port, timeoutMs) {
  const socket = net.createConnection({ host, port });
  socket.setEncoding('utf8');
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error('SMTP timeout')));
  let buffered = '';
  let lines = [];
  let waiting = null;
  let failure = null;

  const settle = (fn) => {
    const w = waiting;
    waiting = null;
    if (w) fn(w);
  };
  socket.on('data', (chunk) => {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf('\r\n')) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      lines.push(line);
      if (line.length === 3 || line[3] === ' ') {
        const reply = { code: Number(line.slice(0, 3)), text: lines.map((l) => l.slice(4)).join('\n') };
        lines = [];
        settle((w) => w.resolve(reply));
      }
    }
  });
  socket.on('error', (err) => {
    failure = err;
    settle((w) => w.reject(err));
  });
  socket.on('close', () => {
    failure = failure || new Error('SMTP connection closed');
    settle((w) => w.reject(failure));
  });

  const nextReply = () =>
    new Promise((resolve, reject) => {
      if (failure) reject(failure);
      else waiting = { resolve, reject };
    });
  const greeting = nextReply();
  return {
    greeting,
    command(line) {
      const reply = nextReply();
      socket.write(`${line}\r\n`);
      return reply;
    },
    close() {
      socket.end();
    },
  };
}

function expect(reply, code, what) {
  if (reply.code !== code) throw new SmtpError(`${what} failed: ${reply.code} ${reply.text}`, reply.code);
  return reply;
}

// Sends `message` (text with headers) from `from` to `to`; resolves with the reply code to DATA
// (250). `afterMailFrom` (optional, async) runs once the server accepted MAIL FROM.
async function sendMail({ host, port, from, to, message, afterMailFrom, timeoutMs = 10000 }) {
  const conn = openConnection(host, port, timeoutMs);
  try {
    expect(await conn.greeting, 220, 'greeting');
    expect(await conn.command('EHLO shop-worker'), 250, 'EHLO');
    expect(await conn.command(`MAIL FROM:<${from}>`), 250, 'MAIL FROM');
    if (afterMailFrom) await afterMailFrom();
    const rcpt = await conn.command(`RCPT TO:<${to}>`);
    if (rcpt.code !== 250 && rcpt.code !== 251) {
      throw new SmtpError(`Can't send mail - all recipients were rejected: ${rcpt.code} ${rcpt.text}`, rcpt.code);
    }
    expect(await conn.command('DATA'), 354, 'DATA');
    const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..').replace(/(\r\n)+$/, '');
    const accepted = expect(await conn.command(`${body}\r\n.`), 250, 'message');
    await conn.command('QUIT').catch(() => {});
    return accepted.code;
  } finally {
    conn.close();
  }
}

module.exports = { sendMail, SmtpError };
