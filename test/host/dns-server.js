// A tiny DNS server on 127.0.0.1 for tests (bext's resolver is pointed at it with BEXT_DNS_SERVERS):
// answers A/AAAA queries from a table (a function may change the answer per query), or never answers.
import dgram from 'node:dgram';
import net from 'node:net';

function readName(msg, offset) {
  const labels = [];
  let i = offset;
  while (msg[i] !== 0) {
    labels.push(msg.subarray(i + 1, i + 1 + msg[i]).toString('latin1'));
    i += msg[i] + 1;
  }
  return { name: labels.join('.').toLowerCase(), end: i + 1 };
}

function rdata(type, address) {
  if (type === 1) return Buffer.from(address.split('.').map(Number));
  // AAAA: expand :: and write 8 groups.
  const [head, tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const b = Buffer.alloc(16);
  groups.forEach((g, k) => b.writeUInt16BE(parseInt(g, 16), k * 2));
  return b;
}

/**
 * answers: { name: ['1.2.3.4', '::1', ...] } or (name, count) => [...] | undefined.
 * `silent: true` never replies. `ttl` (seconds, default 0: not to be kept) goes on every record.
 * * `delayMs` holds every reply back that long (queries that overlap). `drop(name, n)` true leaves
 * the n-th query for that name (1-based) unanswered (rinfo: where it came from).
 * Returns { server: 'ip:port', queries: [names], close() }.
 */
export async function startDns({ answers = {}, silent = false, ttl = 0, delayMs = 0, drop = null } = {}) {
  const sock = dgram.createSocket('udp4');
  const queries = [];
  /** Replies held back (delayMs), dropped on close. */
  const held = new Set();
  sock.on('message', (msg, rinfo) => {
    const { name, end } = readName(msg, 12);
    const type = msg.readUInt16BE(end);
    queries.push(name);
    if (silent) return;
    if (drop?.(name, queries.filter((q) => q === name).length, rinfo)) return;
    const all = typeof answers === 'function' ? answers(name, queries.filter((q) => q === name).length) : answers[name];
    const family = type === 1 ? 4 : type === 28 ? 6 : 0;
    const records = (all ?? []).filter((a) => net.isIP(a) === family);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(all === undefined ? 0x8183 : 0x8180, 2); // NXDOMAIN / NOERROR
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length, 6);
    const parts = [header, msg.subarray(12, end + 4)];
    for (const a of records) {
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(ttl, 6);
      const data = rdata(type, a);
      rr.writeUInt16BE(data.length, 10);
      parts.push(rr, data);
    }
    const reply = Buffer.concat(parts);
    if (delayMs > 0) {
      const t = setTimeout(() => {
        held.delete(t);
        sock.send(reply, rinfo.port, rinfo.address);
      }, delayMs);
      held.add(t);
    }
    else sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  return {
    server: `127.0.0.1:${sock.address().port}`,
    queries,
    close: () => {
      for (const t of held) clearTimeout(t);
      return new Promise((r) => sock.close(r));
    },
  };
}
