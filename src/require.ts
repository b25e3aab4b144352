/**
 * Loading CommonJS packages (fastify and its plugins, prom-client) with `require` instead of
 * `import`. An ES module importing a CommonJS file makes Node scan that file's source for its
 * export names (cjs-module-lexer, written in JavaScript); at start-up the scan runs hot enough
 * for V8 to optimize it, and that compilation leaves some 8-10 MB of malloc arenas in the
 * daemon for good (bench/idle-rss: RSS after 30 s 79 -> 69 MB with the bundled build).
 * `require` needs no scan. Give the result the package's own type:
 *
 *   const Fastify = requireCjs('fastify') as typeof import('fastify').default;
 */
import { createRequire } from 'node:module';

export const requireCjs = createRequire(import.meta.url);
