// Turns the conformance suite's per-scenario results (<dir>/[server-]<scenario>-<time>/checks.json)
// into the table scripts/conformance prints, and decides the exit status.
//
//   node summarize.mjs collect <results-dir> <target> <revision> <suite-dir> requirements
//   node summarize.mjs collect <results-dir> <target> <revision> <suite-dir> generic <scenario>...
//       prints one tab-separated line per scenario: target, revision, scenario,
//       scored (yes | not scored: reason), pass | fail, first failure. `requirements` takes the
//       revision's requirement set (scored and not scored); `generic` takes the scenarios named,
//       for a server without the fixture's tools, where a check the suite itself reports as
//       "Not testable" (it needs a fixture tool) does not count.
//   node summarize.mjs report <results.tsv> <expected-failures.txt>
//       prints a table per target and revision, then "N passed, M failed"; exits 1 on any failure
//       not listed in the expected failures, or on a listed one that now passes (a stale entry),
//       and on a scenario, scored or not, that passes on the fixture but not through the gateway.

import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const [command, ...args] = process.argv.slice(2);

function scenarioResults(dir) {
  // Directory names are server-<scenario>-<ISO timestamp with dashes>, and for client
  // scenarios <scenario>-<timestamp>; a scenario named <group>/<name> (auth/...) is under <group>/.
  const stamp = /-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(-\d+)?Z?$/;
  const results = new Map();
  if (!existsSync(dir)) return results;
  for (const entry of readdirSync(dir).sort()) {
    const leg = entry.startsWith('server-') ? 'server-' : '';
    const file = join(dir, entry, 'checks.json');
    if (!existsSync(file)) {
      if (statSync(join(dir, entry)).isDirectory() && !stamp.test(entry)) {
        for (const [name, checks] of scenarioResults(join(dir, entry))) {
          results.set(`${entry}/${name}`, checks);
        }
      }
      continue;
    }
    const scenario = entry.slice(leg.length).replace(stamp, '');
    results.set(scenario, JSON.parse(readFileSync(file, 'utf8')));
  }
  return results;
}

function requirements(suiteDir, revision) {
  const require = createRequire(join(suiteDir, 'package.json'));
  const YAML = require('yaml');
  const file = join(suiteDir, 'requirements', `${revision}.yaml`);
  const doc = YAML.parse(readFileSync(file, 'utf8'));
  const scored = (doc.server ?? []).map((name) => [name, 'yes']);
  const unscored = (doc.not_scored ?? [])
    .filter((entry) => entry.leg === 'server')
    .map((entry) => [entry.scenario, `not scored: ${entry.reason}`]);
  return [...scored, ...unscored];
}

function collect([dir, target, revision, suiteDir, mode, ...scenarios]) {
  const generic = mode === 'generic';
  const wanted = generic
    ? scenarios.map((name) => [name, 'yes'])
    : requirements(suiteDir, revision);
  const results = scenarioResults(dir);
  for (const [scenario, scored] of wanted) {
    const checks = results.get(scenario);
    let status = 'pass';
    let detail = '';
    if (!checks) {
      status = 'fail';
      detail = 'no result: the scenario did not run to completion';
    } else {
      const untestable = (check) =>
        generic && String(check.errorMessage ?? '').startsWith('Not testable');
      const failed = checks.filter((check) => check.status === 'FAILURE' && !untestable(check));
      const skipped = checks.filter((check) => check.status === 'FAILURE' && untestable(check));
      if (skipped.length > 0) {
        detail = `${skipped.length} check(s) need fixture tools: not applicable`;
      }
      if (failed.length > 0) {
        status = 'fail';
        const first = failed[0];
        detail = `${failed.length} failed check(s); ${first.name}: ${first.errorMessage ?? ''}`;
      }
    }
    const clean = (text) => String(text).replace(/[\t\n\r]+/g, ' ').slice(0, 300);
    console.log([target, revision, scenario, scored, status, clean(detail)].join('\t'));
  }
}

function report([tsv, expectedFile]) {
  const rows = readFileSync(tsv, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [target, revision, scenario, scored, status, detail] = line.split('\t');
      return { target, revision, scenario, scored, status, detail };
    });
  const expected = new Map();
  if (existsSync(expectedFile)) {
    for (const line of readFileSync(expectedFile, 'utf8').split('\n')) {
      const text = line.trim();
      if (!text || text.startsWith('#')) continue;
      const [target, revision, scenario, ...reason] = text.split(/\s+/);
      expected.set(`${target} ${revision} ${scenario}`, reason.join(' '));
    }
  }
  let passed = 0;
  let failed = 0;
  const problems = [];
  const groups = new Map();
  for (const row of rows) {
    const key = `${row.target} @ ${row.revision}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(row);
  }
  for (const [key, group] of groups) {
    console.log(`\n${key}`);
    const width = Math.max(...group.map((row) => row.scenario.length));
    for (const row of group) {
      const id = `${row.target} ${row.revision} ${row.scenario}`;
      const scored = row.scored === 'yes';
      let mark = row.status === 'pass' ? 'PASS' : 'FAIL';
      let note = row.detail;
      // The gateway is transparent: a scenario the fixture passes directly, scored or not,
      // must pass through it too.
      const direct = rows.find(
        (other) =>
          other.target === 'fixture' &&
          other.revision === row.revision &&
          other.scenario === row.scenario,
      );
      if (!scored && row.target === 'gateway' && row.status === 'fail' && direct?.status === 'pass') {
        mark = 'FAIL';
        note = `(${row.scored}) passes on the fixture directly, fails through the gateway: ${note}`;
        failed += 1;
        problems.push(id);
      } else if (!scored) {
        mark = row.status === 'pass' ? 'pass' : 'fail';
        note = `(${row.scored})${note ? ' ' + note : ''}`;
      } else if (expected.has(id)) {
        if (row.status === 'fail') {
          mark = 'XFAIL';
          note = `expected: ${expected.get(id)}`;
          passed += 1;
        } else {
          mark = 'XPASS';
          note = 'listed in conformance/expected-failures.txt but passes: remove the entry';
          failed += 1;
          problems.push(id);
        }
      } else if (row.status === 'pass') {
        passed += 1;
      } else {
        failed += 1;
        problems.push(id);
      }
      const shown = note.length > 140 ? `${note.slice(0, 137)}...` : note;
      console.log(`  ${mark.padEnd(5)}  ${row.scenario.padEnd(width)}  ${shown}`.trimEnd());
    }
  }
  for (const id of expected.keys()) {
    if (!rows.some((row) => `${row.target} ${row.revision} ${row.scenario}` === id)) {
      console.log(`\nnote: expected failure "${id}" matched no scenario that ran`);
    }
  }
  if (problems.length > 0) {
    console.log(`\nunexpected results:\n  ${problems.join('\n  ')}`);
  }
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

if (command === 'collect') collect(args);
else if (command === 'report') report(args);
else {
  console.error('usage: summarize.mjs collect|report ...');
  process.exit(2);
}
