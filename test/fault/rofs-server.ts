/**
 * A passthrough FUSE filesystem, for the storage fault test: `node --import tsx rofs-server.ts
 * BACKING MOUNTPOINT` mounts BACKING at MOUNTPOINT (through /dev/fuse and mount(8); root only)
 * and serves it until unmounted. Lines on stdin switch it: `ro` makes the filesystem read-only
 * — every write, create, remove, rename, truncate, chmod/chown, utimes and fsync answers EROFS,
 * also through descriptors opened before (SQLite's db, -wal and -shm stay open) — and `rw`
 * makes it writable again; each is acknowledged on stdout (`ro ok`, `rw ok`). `ready` is
 * printed once the kernel has initialised the connection.
 *
 * Why not `mount -o remount,ro`: Linux refuses a read-only remount while any file on the
 * filesystem is open for writing (EBUSY), which a running daemon's database always is; and a
 * filesystem the kernel itself turns read-only (ext4 errors=remount-ro) cannot be made
 * writable again without unmounting it. A read-only switch that a running daemon meets, and
 * that can be undone under it, has to live in the filesystem: here.
 *
 * Requests are served one at a time (the kernel queues the rest); attributes and entries are
 * never cached (valid 0), so every process sees the backing files as they are. POSIX locks are
 * left to the kernel (FUSE_POSIX_LOCKS not asked for): SQLite's locks work between processes
 * that use this mount. Little-endian x86-64/arm64 layouts of the FUSE kernel ABI 7.31.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [BACKING = '', MOUNTPOINT = ''] = process.argv.slice(2);
if (!BACKING || !MOUNTPOINT) {
  console.error('usage: rofs-server.ts BACKING MOUNTPOINT');
  process.exit(2);
}

const OP = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, SYMLINK: 6, MKNOD: 8, MKDIR: 9, UNLINK: 10, RMDIR: 11, RENAME: 12, LINK: 13,
  OPEN: 14, READ: 15, WRITE: 16, STATFS: 17, RELEASE: 18, FSYNC: 20, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29,
  FSYNCDIR: 30, ACCESS: 34, CREATE: 35, INTERRUPT: 36, DESTROY: 38, BATCH_FORGET: 42, FALLOCATE: 43, RENAME2: 45,
} as const;
const E = { EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EACCES: 13, EEXIST: 17, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENOSPC: 28, EROFS: 30, ENOSYS: 38, ENOTEMPTY: 39 } as const;
const O_ACCMODE = 3;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;

let readOnly = false;
let initialised = false;

// ---------------------------------------------------------------- nodes and handles

const pathOf = new Map<bigint, string>([[1n, '']]);
const idOf = new Map<string, bigint>([['', 1n]]);
let nextId = 2n;
function nodeFor(rel: string): bigint {
  let id = idOf.get(rel);
  if (id === undefined) {
    id = nextId++;
    idOf.set(rel, id);
    pathOf.set(id, rel);
  }
  return id;
}
const real = (rel: string) => path.join(BACKING, rel);
function relOf(node: bigint): string {
  const p = pathOf.get(node);
  if (p === undefined) throw Object.assign(new Error('stale node'), { errno: -E.ENOENT });
  return p;
}

const handles = new Map<bigint, number>(); // fh -> backing fd
const dirs = new Map<bigint, string[]>(); // fh -> names (taken at opendir)
let nextFh = 1n;

// ---------------------------------------------------------------- encoding

function attr(st: fs.BigIntStats): Buffer {
  const b = Buffer.alloc(88);
  b.writeBigUInt64LE(st.ino, 0);
  b.writeBigUInt64LE(st.size, 8);
  b.writeBigUInt64LE(st.blocks, 16);
  b.writeBigUInt64LE(st.atimeNs / 1_000_000_000n, 24);
  b.writeBigUInt64LE(st.mtimeNs / 1_000_000_000n, 32);
  b.writeBigUInt64LE(st.ctimeNs / 1_000_000_000n, 40);
  b.writeUInt32LE(Number(st.atimeNs % 1_000_000_000n), 48);
  b.writeUInt32LE(Number(st.mtimeNs % 1_000_000_000n), 52);
  b.writeUInt32LE(Number(st.ctimeNs % 1_000_000_000n), 56);
  b.writeUInt32LE(Number(st.mode), 60);
  b.writeUInt32LE(Number(st.nlink), 64);
  b.writeUInt32LE(Number(st.uid), 68);
  b.writeUInt32LE(Number(st.gid), 72);
  b.writeUInt32LE(Number(st.rdev), 76);
  b.writeUInt32LE(Number(st.blksize), 80);
  return b;
}
/** fuse_entry_out: nodeid, generation, entry/attr validity 0 (no caching), attr. */
function entry(node: bigint, st: fs.BigIntStats): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigUInt64LE(node, 0);
  return Buffer.concat([b, attr(st)]);
}
/** fuse_attr_out: validity 0, attr. */
const attrOut = (st: fs.BigIntStats) => Buffer.concat([Buffer.alloc(16), attr(st)]);
function openOut(fh: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(fh, 0);
  return b;
}
const cstr = (b: Buffer, at: number) => b.toString('utf8', at, b.indexOf(0, at));

// ---------------------------------------------------------------- serving

const dev = fs.openSync('/dev/fuse', 'r+');
const MAX_WRITE = 128 * 1024;
const buf = Buffer.alloc(MAX_WRITE + 64 * 1024);

function reply(unique: bigint, error: number, body?: Buffer): void {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + (body?.length ?? 0), 0);
  h.writeInt32LE(error, 4);
  h.writeBigUInt64LE(unique, 8);
  try {
    fs.writeSync(dev, body ? Buffer.concat([h, body]) : h);
  } catch {
    // ENOENT: the request was interrupted meanwhile
  }
}

function errnoOf(e: unknown): number {
  const n = (e as NodeJS.ErrnoException).errno;
  return typeof n === 'number' && n < 0 ? n : -E.EIO;
}
const refuse = () => {
  throw Object.assign(new Error('read-only'), { errno: -E.EROFS });
};

function handle(op: number, node: bigint, body: Buffer): Buffer | null | undefined {
  switch (op) {
    case OP.INIT: {
      const out = Buffer.alloc(64);
      out.writeUInt32LE(7, 0);
      out.writeUInt32LE(31, 4);
      out.writeUInt32LE(body.readUInt32LE(8), 8); // max_readahead as offered
      out.writeUInt32LE(0, 12); // no optional features: kernel-local POSIX locks, no writeback cache
      out.writeUInt16LE(16, 16);
      out.writeUInt16LE(12, 18);
      out.writeUInt32LE(MAX_WRITE, 20);
      out.writeUInt32LE(1, 24); // time_gran: nanoseconds
      return out;
    }
    case OP.LOOKUP: {
      const rel = path.join(relOf(node), cstr(body, 0));
      const st = fs.lstatSync(real(rel), { bigint: true });
      return entry(nodeFor(rel), st);
    }
    case OP.FORGET:
    case OP.BATCH_FORGET:
    case OP.INTERRUPT:
      return null; // no reply
    case OP.GETATTR: {
      const flags = body.readUInt32LE(0);
      const fd = flags & 1 ? handles.get(body.readBigUInt64LE(8)) : undefined;
      return attrOut(fd !== undefined ? fs.fstatSync(fd, { bigint: true }) : fs.lstatSync(real(relOf(node)), { bigint: true }));
    }
    case OP.SETATTR: {
      if (readOnly) refuse();
      const valid = body.readUInt32LE(0);
      const p = real(relOf(node));
      const fd = valid & 64 ? handles.get(body.readBigUInt64LE(8)) : undefined;
      if (valid & 1) fs.chmodSync(p, body.readUInt32LE(68) & 0o7777);
      if (valid & 6) {
        const st = fs.lstatSync(p);
        fs.lchownSync(p, valid & 2 ? body.readUInt32LE(76) : st.uid, valid & 4 ? body.readUInt32LE(80) : st.gid);
      }
      if (valid & 8) {
        const size = Number(body.readBigUInt64LE(16));
        if (fd !== undefined) fs.ftruncateSync(fd, size);
        else fs.truncateSync(p, size);
      }
      if (valid & (16 | 32 | 128 | 256)) {
        const st = fs.lstatSync(p);
        const now = Date.now() / 1000;
        const at = valid & 128 ? now : valid & 16 ? Number(body.readBigUInt64LE(32)) + body.readUInt32LE(56) / 1e9 : st.atimeMs / 1000;
        const mt = valid & 256 ? now : valid & 32 ? Number(body.readBigUInt64LE(40)) + body.readUInt32LE(60) / 1e9 : st.mtimeMs / 1000;
        fs.utimesSync(p, at, mt);
      }
      return attrOut(fd !== undefined ? fs.fstatSync(fd, { bigint: true }) : fs.lstatSync(p, { bigint: true }));
    }
    case OP.MKDIR: {
      if (readOnly) refuse();
      const rel = path.join(relOf(node), cstr(body, 8));
      fs.mkdirSync(real(rel), { mode: body.readUInt32LE(0) & ~body.readUInt32LE(4) & 0o7777 });
      return entry(nodeFor(rel), fs.lstatSync(real(rel), { bigint: true }));
    }
    case OP.UNLINK:
    case OP.RMDIR: {
      if (readOnly) refuse();
      const rel = path.join(relOf(node), cstr(body, 0));
      if (op === OP.UNLINK) fs.unlinkSync(real(rel));
      else fs.rmdirSync(real(rel));
      idOf.delete(rel); // a file made later under the same name is a new node (no stale page cache)
      return Buffer.alloc(0);
    }
    case OP.RENAME:
    case OP.RENAME2: {
      if (readOnly) refuse();
      const newDir = body.readBigUInt64LE(0);
      const at = op === OP.RENAME ? 8 : 16;
      if (op === OP.RENAME2 && body.readUInt32LE(8) !== 0) throw Object.assign(new Error('flags'), { errno: -E.EINVAL });
      const from = cstr(body, at);
      const to = cstr(body, at + Buffer.byteLength(from) + 1);
      const a = path.join(relOf(node), from);
      const b = path.join(relOf(newDir), to);
      fs.renameSync(real(a), real(b));
      idOf.delete(b); // the file it replaced, if any
      for (const [rel, id] of [...idOf]) {
        if (rel === a || rel.startsWith(`${a}/`)) {
          const moved = b + rel.slice(a.length);
          idOf.delete(rel);
          idOf.set(moved, id);
          pathOf.set(id, moved);
        }
      }
      return Buffer.alloc(0);
    }
    case OP.OPEN: {
      const flags = body.readUInt32LE(0);
      if (readOnly && ((flags & O_ACCMODE) !== 0 || flags & O_TRUNC)) refuse();
      const fh = nextFh++;
      handles.set(fh, fs.openSync(real(relOf(node)), flags & ~O_CREAT));
      return openOut(fh);
    }
    case OP.CREATE: {
      if (readOnly) refuse();
      const flags = body.readUInt32LE(0);
      const mode = body.readUInt32LE(4) & ~body.readUInt32LE(8) & 0o7777;
      const rel = path.join(relOf(node), cstr(body, 16));
      const fd = fs.openSync(real(rel), flags | O_CREAT, mode);
      const fh = nextFh++;
      handles.set(fh, fd);
      return Buffer.concat([entry(nodeFor(rel), fs.fstatSync(fd, { bigint: true })), openOut(fh)]);
    }
    case OP.READ: {
      const fd = handles.get(body.readBigUInt64LE(0));
      if (fd === undefined) throw Object.assign(new Error('fh'), { errno: -E.EBADF });
      const out = Buffer.alloc(body.readUInt32LE(16));
      const n = fs.readSync(fd, out, 0, out.length, Number(body.readBigUInt64LE(8)));
      return out.subarray(0, n);
    }
    case OP.WRITE: {
      if (readOnly) refuse();
      const fd = handles.get(body.readBigUInt64LE(0));
      if (fd === undefined) throw Object.assign(new Error('fh'), { errno: -E.EBADF });
      const size = body.readUInt32LE(16);
      const n = fs.writeSync(fd, body, 40, size, Number(body.readBigUInt64LE(8)));
      const out = Buffer.alloc(8);
      out.writeUInt32LE(n, 0);
      return out;
    }
    case OP.FSYNC: {
      if (readOnly) refuse();
      const fd = handles.get(body.readBigUInt64LE(0));
      if (fd !== undefined) fs.fsyncSync(fd);
      return Buffer.alloc(0);
    }
    case OP.FLUSH:
    case OP.FSYNCDIR:
      return Buffer.alloc(0);
    case OP.RELEASE: {
      const fh = body.readBigUInt64LE(0);
      const fd = handles.get(fh);
      handles.delete(fh);
      if (fd !== undefined) fs.closeSync(fd);
      return Buffer.alloc(0);
    }
    case OP.OPENDIR: {
      const fh = nextFh++;
      dirs.set(fh, ['.', '..', ...fs.readdirSync(real(relOf(node)))]);
      return openOut(fh);
    }
    case OP.READDIR: {
      const names = dirs.get(body.readBigUInt64LE(0)) ?? [];
      const offset = Number(body.readBigUInt64LE(8));
      const size = body.readUInt32LE(16);
      const parts: Buffer[] = [];
      let used = 0;
      for (let i = offset; i < names.length; i++) {
        const name = Buffer.from(names[i]!);
        const len = 24 + name.length;
        const padded = (len + 7) & ~7;
        if (used + padded > size) break;
        const d = Buffer.alloc(padded);
        let ino = 1n;
        let type = 0;
        try {
          const st = fs.lstatSync(real(path.join(relOf(node), names[i]!)), { bigint: true });
          ino = st.ino;
          type = Number((st.mode >> 12n) & 0o17n);
        } catch {
          // gone meanwhile: listed without a type
        }
        d.writeBigUInt64LE(ino, 0);
        d.writeBigUInt64LE(BigInt(i + 1), 8);
        d.writeUInt32LE(name.length, 16);
        d.writeUInt32LE(type, 20);
        name.copy(d, 24);
        parts.push(d);
        used += padded;
      }
      return Buffer.concat(parts);
    }
    case OP.RELEASEDIR:
      dirs.delete(body.readBigUInt64LE(0));
      return Buffer.alloc(0);
    case OP.STATFS: {
      const s = fs.statfsSync(BACKING, { bigint: true });
      const out = Buffer.alloc(80);
      out.writeBigUInt64LE(s.blocks, 0);
      out.writeBigUInt64LE(s.bfree, 8);
      out.writeBigUInt64LE(s.bavail, 16);
      out.writeBigUInt64LE(s.files, 24);
      out.writeBigUInt64LE(s.ffree, 32);
      out.writeUInt32LE(Number(s.bsize), 40);
      out.writeUInt32LE(255, 44);
      out.writeUInt32LE(Number(s.bsize), 48);
      return out;
    }
    case OP.ACCESS: {
      const mask = body.readUInt32LE(0);
      if (readOnly && mask & 2) refuse();
      fs.accessSync(real(relOf(node)), mask);
      return Buffer.alloc(0);
    }
    case OP.DESTROY:
      return Buffer.alloc(0); // then exit (serve)
    default:
      // FALLOCATE, xattrs, links, lseek, …: not provided; the kernel falls back or reports ENOSYS.
      throw Object.assign(new Error('not implemented'), { errno: -E.ENOSYS });
  }
}

function serve(n: number): void {
  const len = buf.readUInt32LE(0);
  const op = buf.readUInt32LE(4);
  const unique = buf.readBigUInt64LE(8);
  const node = buf.readBigUInt64LE(16);
  const body = buf.subarray(40, Math.min(len, n));
  try {
    const out = handle(op, node, body);
    if (out !== null) reply(unique, 0, out);
    if (op === OP.INIT) {
      initialised = true;
      process.stdout.write('ready\n');
    }
    if (op === OP.DESTROY) process.exit(0);
  } catch (e) {
    reply(unique, errnoOf(e));
  }
}

function loop(): void {
  fs.read(dev, buf, 0, buf.length, null, (err, n) => {
    if (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINTR' || code === 'EAGAIN' || code === 'ENOENT') return loop();
      if (code === 'EPERM' && !initialised) return void setTimeout(loop, 10); // not mounted yet
      process.exit(0); // ENODEV: unmounted
    }
    serve(n);
    loop();
  });
}

// Control: `ro` / `rw` lines on stdin.
let pending = '';
process.stdin.on('data', (d) => {
  pending += d;
  for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
    const cmd = pending.slice(0, i).trim();
    pending = pending.slice(i + 1);
    if (cmd === 'ro' || cmd === 'rw') {
      readOnly = cmd === 'ro';
      process.stdout.write(`${cmd} ok\n`);
    }
  }
});
process.stdin.on('end', () => {
  // The test is done or gone: writable again, and unmounted (lazily: a process may still hold a
  // file there), which ends this process (the next read fails with ENODEV).
  readOnly = false;
  if (initialised) spawn('umount', ['-l', MOUNTPOINT], { stdio: 'ignore' });
});

loop();
// mount(8) passes fd 3 (our /dev/fuse) to the kernel; -i: no mount.fuse helper.
const m = spawn('mount', ['-i', '-t', 'fuse.smart-cron-rofs', '-o', `fd=3,rootmode=40000,user_id=0,group_id=0,allow_other`, 'smart-cron-rofs', MOUNTPOINT], {
  stdio: ['ignore', 'inherit', 'inherit', dev],
});
m.on('close', (code) => {
  if (code !== 0) {
    console.error(`rofs: mount failed (${code})`);
    process.exit(3);
  }
});
