import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describe, runCli } from '../helpers/cli.js';

test('a found job a person removes stays removed: jobs remove says so, discover and import-crontab list it as left out, --include-removed brings it back', async () => {
  const h = mkdtempSync(join(tmpdir(), 'sc-removed-'));
  try {
    const sc = (...args: string[]) => runCli(['--home', h, ...args]);
    const dir = join(h, 'cron');
    mkdirSync(dir);
    writeFileSync(join(dir, 'cleanup.sh'), '#!/bin/sh\n# Deletes old temp files.\n# @cron 0 4 * * *\nfind /tmp -mtime +7 -delete\n', { mode: 0o755 });
    writeFileSync(join(dir, 'report.sh'), '#!/bin/sh\n# Mails the daily report.\n# @cron 0 6 * * *\necho report\n', { mode: 0o755 });
    assert.equal((await sc('discover', dir)).code, 0);

    const removed = await sc('jobs', 'remove', 'cleanup');
    assert.equal(removed.code, 0, describe(removed));
    assert.equal(removed.stdout.trim(), `removed: cleanup (discover leaves ${join(dir, 'cleanup.sh')} out from now on; --include-removed brings it back)`);

    const again = await sc('discover', dir);
    assert.equal(again.code, 0, describe(again));
    assert.match(again.stdout, new RegExp(`^left out: ${join(dir, 'cleanup.sh')}: its job cleanup was removed \\d{4}-\\d\\d-\\d\\d$`, 'm'));
    assert.match(again.stdout, /^\(--include-removed registers them again\)$/m);
    assert.match(again.stdout, /0 new, 0 updated, 1 unchanged, 0 missing/);
    const names = async () => (JSON.parse((await sc('--json', 'jobs', 'list')).stdout) as { name: string }[]).map((j) => j.name).sort();
    assert.deepEqual(await names(), ['report']);

    const back = await sc('discover', '--include-removed', dir);
    assert.equal(back.code, 0, describe(back));
    assert.match(back.stdout, /^cleanup +new/m);
    assert.deepEqual(await names(), ['cleanup', 'report']);

    // An imported crontab entry, the same way.
    const ct = join(h, 'ct');
    writeFileSync(ct, '0 2 * * * /usr/bin/backup.sh\n');
    const imported = JSON.parse((await sc('--json', 'import-crontab', ct)).stdout) as { jobs: { name: string }[] };
    const name = imported.jobs[0]!.name;
    const gone = await sc('jobs', 'remove', name);
    assert.equal(gone.stdout.trim(), `removed: ${name} (import-crontab leaves its entry out from now on; --include-removed brings it back)`);
    const left = await sc('import-crontab', ct);
    assert.equal(left.code, 0, describe(left));
    assert.match(left.stdout, new RegExp(`^left out ${ct}:1: its job ${name} was removed \\d{4}-\\d\\d-\\d\\d \\(--include-removed imports it again\\)$`, 'm'));
    assert.doesNotMatch(left.stdout, /no crontab entries found/);
    assert.deepEqual(await names(), ['cleanup', 'report']);
    assert.equal((await sc('import-crontab', '--include-removed', ct)).code, 0);
    assert.deepEqual(await names(), ['cleanup', name, 'report'].sort());
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});
