// The names save-file gives: SaveFile's from_port_<port>-<proto>_<pid>_<date>
// for attack strings (the attack id in the pid's place), <md5>-<name> for
// downloads, with names from the attacker's URL made safe. plugin.test.mjs
// runs the plugin itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attackFixture } from '@honeytrap/sdk';
import { attackFileName, downloadFileName, safeName } from '../index.mjs';

const ID = '01M8A1R87GW009PF5K1YK9T9R0';
const MD5_HELLO = '09f7e02f1290be211da707a266f153b3'; // md5sum of "Hello\n"

test('attack strings: from_port_<port>-<proto>_<attack id>_<UTC start date>', () => {
  const a = attackFixture({ id: ID, port: 445, startedAt: '2026-11-25T23:59:59.999Z' });
  assert.equal(attackFileName(a), `from_port_445-tcp_${ID}_2026-11-25`);
  const u = attackFixture({
    id: ID,
    port: 5060,
    proto: 'udp',
    startedAt: '2026-01-02T00:00:00.000Z',
  });
  assert.equal(attackFileName(u), `from_port_5060-udp_${ID}_2026-01-02`);
});

test('downloads: <md5>-<last path segment>, or the MD5 alone', () => {
  const hello = Buffer.from('Hello\n');
  assert.equal(
    downloadFileName('http://203.0.113.9/bins/mirai.x86', hello),
    `${MD5_HELLO}-mirai.x86`,
  );
  assert.equal(downloadFileName('ftp://u:p@203.0.113.9/a%20b.exe', hello), `${MD5_HELLO}-a_b.exe`);
  assert.equal(downloadFileName('tftp://[2001:db8::9]/x.sh', hello), `${MD5_HELLO}-x.sh`);
  assert.equal(downloadFileName('http://203.0.113.9/', hello), MD5_HELLO);
  assert.equal(downloadFileName('not a url', hello), MD5_HELLO);
});

test("names from the attacker's URL cannot climb out or hide", () => {
  assert.equal(safeName('..'), '_');
  assert.equal(safeName('../../etc/passwd'), '__.._etc_passwd');
  assert.equal(safeName('.bashrc'), '_bashrc');
  assert.equal(safeName('a\u0000b\nc;rm -rf'), 'a_b_c_rm_-rf');
  assert.equal(safeName('x'.repeat(300)).length, 128);
  // %2F in the URL decodes to "/" in the name, and is then replaced
  const hello = Buffer.from('Hello\n');
  assert.equal(downloadFileName('http://h/..%2F..%2Fx', hello), `${MD5_HELLO}-__.._x`);
});
