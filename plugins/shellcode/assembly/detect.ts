// The detectors: GetPC sequences, XOR decoder loops, NOP sleds and a few
// well-known stubs, in 32-bit x86 code (and one x86-64 stub). Each is built
// from the instruction encodings (Intel SDM vol. 2), so a match means the
// bytes decode to that instruction sequence.
import { Meta, finding } from "@honeytrap/sdk/assembly";

export class Config {
  minSledLength: i32 = 16;
  minSledDistinct: i32 = 4;
  decoderWindow: i32 = 24;
  maxFindings: i32 = 100;
  /** The raw JSON of config.disable (pattern names), or "". */
  disabled: string = "";
}

export class Hit {
  constructor(
    public offset: i32,
    public json: string,
  ) {}
}

/** Bytes before a decoder's xor in which its pointer and counter must be set. */
const SETUP_WINDOW = 40;

const REG32: string[] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const REG8: string[] = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"];
const HEX = "0123456789abcdef";

function hex(v: u32, bytes: i32): string {
  let s = "0x";
  for (let k = bytes * 2 - 1; k >= 0; k--) s += HEX.charAt(<i32>((v >> (<u32>k * 4)) & 0xf));
  return s;
}

export class Scanner {
  hits: Hit[] = [];
  /** Matches found past maxFindings. */
  dropped: i32 = 0;

  constructor(
    public d: Uint8Array,
    public cfg: Config,
  ) {}

  @inline
  at(i: i32): i32 {
    return i >= 0 && i < this.d.length ? <i32>unchecked(this.d[i]) : -1;
  }

  enabled(name: string): bool {
    return this.cfg.disabled.length == 0 || !this.cfg.disabled.includes('"' + name + '"');
  }

  report(name: string, category: string, offset: i32, length: i32, meta: Meta): void {
    if (!this.enabled(name)) return;
    if (this.hits.length >= this.cfg.maxFindings) {
      this.dropped++;
      return;
    }
    const all = new Meta()
      .str("pattern", name)
      .str("category", category)
      .str("arch", name.startsWith("linux-x64") ? "x86-64" : "x86")
      .num("length", length)
      .append(meta);
    this.hits.push(new Hit(offset, finding("signature", name, offset, all)));
  }

  // ---- GetPC ----

  /** call $+5; pop r  (E8 00 00 00 00, 58+r) */
  callPop(i: i32): void {
    const d = this.d;
    if (i + 6 > d.length) return;
    if (d[i + 1] != 0 || d[i + 2] != 0 || d[i + 3] != 0 || d[i + 4] != 0) return;
    const p = <i32>d[i + 5];
    if (p < 0x58 || p > 0x5f) return;
    this.report("getpc-call-pop", "getpc", i, 6, new Meta().str("register", REG32[p - 0x58]));
  }

  /**
   * call $+4 (E8 FF FF FF FF): the call lands on its own last byte, which
   * with the next byte is inc r (FF C0+r); then pop r.
   */
  callPlus4(i: i32): void {
    const d = this.d;
    if (i + 7 > d.length) return;
    if (d[i + 1] != 0xff || d[i + 2] != 0xff || d[i + 3] != 0xff || d[i + 4] != 0xff) return;
    const inc = <i32>d[i + 5];
    const p = <i32>d[i + 6];
    if (inc < 0xc0 || inc > 0xc7 || p < 0x58 || p > 0x5f) return;
    this.report("getpc-call-plus4", "getpc", i, 7, new Meta().str("register", REG32[p - 0x58]));
  }

  /**
   * jmp short to a call that calls back to a pop: EB d; ...; pop r; ...;
   * E8 rel32 (negative) whose target is the pop.
   */
  jmpCallPop(i: i32): void {
    const d = this.d;
    const rel = <i32>this.at(i + 1);
    if (rel < 2 || rel > 0x7f) return;
    const t = i + 2 + rel;
    if (t + 5 > d.length || d[t] != 0xe8) return;
    const off = <i32>(
      (<u32>d[t + 1] | (<u32>d[t + 2] << 8) | (<u32>d[t + 3] << 16) | (<u32>d[t + 4] << 24))
    );
    if (off >= 0) return;
    const target = t + 5 + off;
    if (target < i + 2 || target >= t) return;
    const p = <i32>d[target];
    if (p < 0x58 || p > 0x5f) return;
    this.report("getpc-jmp-call-pop", "getpc", i, t + 5 - i, new Meta().str("register", REG32[p - 0x58]).num("callOffset", t));
  }

  /** fnstenv [esp-0xc] (D9 74 24 F4): the FPU environment's last instruction pointer lands on the stack. */
  fnstenv(i: i32): void {
    const d = this.d;
    if (i + 4 > d.length || d[i + 1] != 0x74 || d[i + 2] != 0x24 || d[i + 3] != 0xf4) return;
    const meta = new Meta();
    const pop = this.popAfter(i + 4, 8);
    if (pop >= 0) meta.str("register", REG32[this.d[pop] - 0x58]);
    this.report("getpc-fnstenv", "getpc", i, 4, meta);
    this.shikata(i, pop);
  }

  /** The first pop r32 in [from, from + window), or -1. */
  popAfter(from: i32, window: i32): i32 {
    for (let k = from; k < from + window && k < this.d.length; k++) {
      const b = <i32>this.d[k];
      if (b >= 0x58 && b <= 0x5f) return k;
    }
    return -1;
  }

  /**
   * Metasploit x86/shikata_ga_nai: a register-form FPU instruction, fnstenv
   * [esp-0xc], pop r, and the counter set up with mov cl, n (B1 n) or mov cx, n
   * (66 B9 n n); the key is loaded with mov r32, imm32 (B8+r). Block order
   * varies from one encoding to the next, so each is looked for near the
   * fnstenv. Reported at the first instruction of the stub.
   */
  shikata(f: i32, pop: i32): void {
    if (pop < 0) return;
    let fpu = -1;
    for (let k = f - 2; k >= f - 16 && k >= 0; k--) {
      const b = this.at(k);
      if (b >= 0xd8 && b <= 0xdf && this.at(k + 1) >= 0xc0) {
        fpu = k;
        break;
      }
    }
    if (fpu < 0) return;
    let counter = -1;
    for (let k = f - 16 > 0 ? f - 16 : 0; k < f + 24 && k + 1 < this.d.length; k++) {
      if (k >= f && k < f + 4) continue;
      if (this.at(k) == 0xb1 || (this.at(k) == 0x66 && this.at(k + 1) == 0xb9)) {
        counter = k;
        break;
      }
    }
    if (counter < 0) return;
    let start = fpu < counter ? fpu : counter;
    // mov r32, imm32 with the key, ending at most 4 bytes before the stub's
    // first instruction found so far
    for (let k = start - 5; k >= start - 9 && k >= 0; k--) {
      const b = this.at(k);
      if (b >= 0xb8 && b <= 0xbf) {
        start = k;
        break;
      }
    }
    const end = pop + 1 > counter + 2 ? pop + 1 : counter + 2;
    this.report("shikata-ga-nai", "decoder", start, end - start, new Meta().num("fnstenvOffset", f).str("register", REG32[this.d[pop] - 0x58]));
  }

  // ---- XOR decoder loops ----

  /** Set by memOperand: the operand's base and index registers (-1: none). */
  base: i32 = -1;
  index: i32 = -1;
  /** memOperand is reading the xor itself (not a loop-body instruction). */
  decoding: bool = false;

  /**
   * The memory operand of the ModRM byte at m: [base], [base+disp8],
   * [base+disp32] (not for the xor itself), with a SIB byte too. Returns the
   * operand's length after the ModRM byte (SIB and displacement), or -1 when
   * it is a register or an absolute address (no pointer register, so no
   * decoder loop). Sets this.base and this.index.
   */
  memOperand(m: i32): i32 {
    const modrm = this.at(m);
    if (modrm < 0) return -1;
    const mod = modrm >> 6;
    const rm = modrm & 7;
    if (mod == 3) return -1;
    if (mod == 2 && this.decoding) return -1; // a decoder's pointer has a small offset
    let extra = 0;
    this.index = -1;
    if (rm == 4) {
      const sib = this.at(m + 1);
      if (sib < 0) return -1;
      const base = sib & 7;
      const index = (sib >> 3) & 7;
      if (base == 5 && mod == 0) return -1;
      this.base = base;
      this.index = index == 4 ? -1 : index;
      extra = 1;
    } else {
      if (rm == 5 && mod == 0) return -1;
      this.base = rm;
    }
    return extra + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
  }

  /** A short conditional branch or loop opcode (the ones decoder loops close with). */
  static isBranch(op: i32): bool {
    // loop, jnz, jb, jbe, jl, jle
    return op == 0xe2 || op == 0x75 || op == 0x72 || op == 0x76 || op == 0x7c || op == 0x7e;
  }

  /**
   * Length of the loop-body instruction at k, for the few instructions a
   * decoder's loop body is made of (pointer and key updates, counters,
   * compares); 0 for anything else, which ends the sweep.
   */
  bodyLen(k: i32): i32 {
    const op = this.at(k);
    if (op < 0) return 0;
    if ((op >= 0x40 && op <= 0x4f) || op == 0x90 || op == 0xac || op == 0xad || op == 0xaa || op == 0xab || op == 0xfc) return 1;
    const m = this.at(k + 1);
    if (m < 0) return 0;
    const regForm = m >= 0xc0;
    if (op == 0x83 && regForm) return 3; // add/or/adc/sbb/and/sub/xor/cmp r32, imm8
    if (op == 0xc1 && regForm) return 3; // rol/ror/shl/shr r32, imm8
    if (op == 0x81 && regForm) return 6; // ... r32, imm32
    if (op == 0x80 && regForm) return 3; // ... r8, imm8
    if ((op == 0xd1 || op == 0xf7 || op == 0xfe) && regForm) return 2; // shifts by 1, not/neg, inc/dec r8
    if (op == 0x3c) return 2; // cmp al, imm8
    if (op == 0x3d) return 5; // cmp eax, imm32
    if (op == 0x01 || op == 0x03 || op == 0x29 || op == 0x2b || op == 0x31 || op == 0x33 || op == 0x39 || op == 0x3b || op == 0x89 || op == 0x8b || op == 0x8d) {
      // Loading or computing a new value into the pointer would end the walk
      // through the payload: not a decoder body (cmp/test only read).
      let dest = -1;
      if (op == 0x8b || op == 0x8d || op == 0x33) dest = (m >> 3) & 7; // mov/lea/xor r32, r/m
      else if ((op == 0x89 || op == 0x31) && regForm) dest = m & 7; // mov/xor r/m32, r32
      if (dest >= 0 && (dest == this.base || dest == this.index)) return 0;
      if (regForm) return op == 0x8d ? 0 : 2;
      const base = this.base;
      const index = this.index;
      const ext = this.memOperand(k + 1);
      this.base = base;
      this.index = index;
      return ext < 0 ? 0 : 2 + ext;
    }
    return 0;
  }

  /** Whether the instruction at k moves pointer register r (inc, dec, add/sub imm, lods/stos). */
  steps(k: i32, r: i32): bool {
    if (r < 0) return false;
    const op = this.at(k);
    if (op == 0x40 + r || op == 0x48 + r) return true;
    if ((op == 0x83 || op == 0x81) && (this.at(k + 1) == 0xc0 + r || this.at(k + 1) == 0xe8 + r)) return true;
    if ((op == 0xac || op == 0xad) && r == 6) return true;
    if ((op == 0xaa || op == 0xab) && r == 7) return true;
    return false;
  }

  /**
   * The register whose inc, dec, add, sub or cmp at k sets the flags a jcc
   * tests (the loop's counter or pointer), or -1 when the instruction at k
   * sets no such flags.
   */
  flagsReg(k: i32): i32 {
    const op = this.at(k);
    if (op >= 0x40 && op <= 0x4f) return op & 7;
    if (op == 0x3c || op == 0x3d) return 0; // cmp al/eax, imm
    const m = this.at(k + 1);
    if (m < 0xc0) return -1;
    if (op == 0x39 || op == 0x29 || op == 0x01) return m & 7;
    if (op == 0x3b || op == 0x2b || op == 0x03) return (m >> 3) & 7;
    if (op == 0x83 || op == 0x81 || op == 0x80) {
      const sub = (m >> 3) & 7;
      return sub == 0 || sub == 5 || sub == 7 ? (op == 0x80 ? m & 3 : m & 7) : -1; // add, sub, cmp
    }
    if (op == 0xfe) return m & 3; // inc/dec r8
    return -1;
  }

  /** Set by loopBody for a jcc closer: the register its flags come from. */
  counter: i32 = -1;

  /** Set by loopBody: whether the body moved a pointer register. */
  stepped: bool = false;

  /**
   * Decodes the loop body from `from` (right after the xor at p), one
   * whitelisted instruction at a time, up to a short backward branch whose
   * target is exactly p. Returns the branch's offset, or -1.
   */
  loopBody(p: i32, from: i32, a: i32, b: i32): i32 {
    const end = from + this.cfg.decoderWindow;
    this.stepped = false;
    let k = from;
    let last = -1;
    for (let n = 0; n <= 8 && k < end; n++) {
      const op = this.at(k);
      if (Scanner.isBranch(op)) {
        const rel = <i32>(<i8>this.at(k + 1));
        if (k + 2 + rel != p) return -1;
        // jcc closes a loop after the counter or pointer was compared or stepped
        this.counter = op < 0xe0 && last >= 0 ? this.flagsReg(last) : -1;
        if (op < 0xe0 && this.counter < 0) return -1;
        return k;
      }
      const len = this.bodyLen(k);
      if (len == 0) return -1;
      if (this.steps(k, a) || this.steps(k, b)) this.stepped = true;
      last = k;
      k += len;
    }
    return -1;
  }

  /**
   * Whether register r gets its value in the `window` bytes before p: pop r,
   * mov r, imm32, mov/lea r, ..., xchg, or (for ecx, the counter) mov cl/cx,
   * push n / pop ecx, zeroing or sub ecx, imm8. A decoder sets its pointer
   * (a GetPC result, an address) and its counter before the loop.
   */
  setBefore(p: i32, r: i32, window: i32): bool {
    const from = p - window > 0 ? p - window : 0;
    for (let k = from; k < p; k++) {
      const op = this.at(k);
      const m = this.at(k + 1);
      if (op == 0x58 + r || op == 0xb8 + r) return true; // pop r; mov r, imm32
      if ((op == 0x8b || op == 0x8d) && m >= 0 && ((m >> 3) & 7) == r) return true; // mov/lea r, ...
      if (op == 0x89 && m >= 0xc0 && (m & 7) == r) return true; // mov r, r32
      if (r != 0 && op == 0x90 + r) return true; // xchg eax, r
      if (r == 1) {
        if (op == 0xb1 || op == 0xb5 || (op == 0x66 && m == 0xb9)) return true; // mov cl / ch / cx
        if (op == 0x6a && this.at(k + 2) == 0x59) return true; // push n; pop ecx
        if ((op == 0x31 || op == 0x29 || op == 0x33 || op == 0x2b) && m == 0xc9) return true; // zero ecx
        if (op == 0x83 && m == 0xe9) return true; // sub ecx, imm8
        if (op == 0xf7 && m == 0xe1) return true; // mul ecx (edx:eax, and a zeroed ecx before it)
      }
    }
    return false;
  }

  static loopName(op: i32): string {
    if (op == 0xe2) return "loop";
    if (op == 0xe0) return "loopnz";
    if (op == 0xe1) return "loopz";
    if (op == 0x75) return "jnz";
    return "jcc";
  }

  /** xor to memory through a pointer register, the register stepped, and a short branch back. */
  xorLoop(p: i32): void {
    const op = this.at(p);
    let len = 0;
    let form = "";
    let key = "";
    let implicit = false;
    this.decoding = true;
    if (op == 0x80 || op == 0x81 || op == 0x83) {
      const modrm = this.at(p + 1);
      if ((modrm & 0x38) != 0x30) return; // /6 is xor
      const ext = this.memOperand(p + 1);
      if (ext < 0) return;
      const imm = op == 0x81 ? 4 : 1;
      len = 2 + ext + imm;
      if (p + len > this.d.length) return;
      let k: u32 = 0;
      for (let b = imm - 1; b >= 0; b--) k = (k << 8) | <u32>this.at(p + len - imm + b);
      if (k == 0) return;
      key = hex(k, imm);
      form = op == 0x80 ? "xor-byte-imm8" : op == 0x81 ? "xor-dword-imm32" : "xor-dword-imm8";
    } else if (op == 0x30 || op == 0x31) {
      const modrm = this.at(p + 1);
      const ext = this.memOperand(p + 1);
      if (ext < 0) return;
      len = 2 + ext;
      const reg = (modrm >> 3) & 7;
      // the key in the pointer register itself (or its low/high byte) is not a key
      const keyReg = op == 0x30 ? reg & 3 : reg;
      if (keyReg == this.base) return;
      key = op == 0x30 ? REG8[reg] : REG32[reg];
      form = op == 0x30 ? "xor-byte-reg" : "xor-dword-reg";
    } else if (op == 0xac && this.at(p + 1) == 0x34 && this.at(p + 3) == 0xaa) {
      len = 4;
      key = hex(<u32>this.at(p + 2), 1);
      form = "lodsb-xor-stosb";
      implicit = true;
      this.base = 6;
      this.index = -1;
    } else if (op == 0xad && this.at(p + 1) == 0x35 && this.at(p + 6) == 0xab) {
      len = 7;
      let k: u32 = 0;
      for (let b = 3; b >= 0; b--) k = (k << 8) | <u32>this.at(p + 2 + b);
      key = hex(k, 4);
      form = "lodsd-xor-stosd";
      implicit = true;
      this.base = 6;
      this.index = -1;
    } else return;
    this.decoding = false;
    if (this.base == 4) return; // esp walks the stack, not a payload
    const q = this.loopBody(p, p + len, this.base, this.index);
    if (q < 0) return;
    // The pointer must move between passes: stepped by the loop body, or the
    // index is ecx, which `loop` counts down, with a fixed key or the count
    // itself as the key (Metasploit countdown: xor [esi+ecx+7], cl).
    const closer = this.at(q);
    const ecxSteps = closer == 0xe2 && this.index == 1 && (key == "cl" || key.startsWith("0x"));
    if (!implicit && !ecxSteps && !this.stepped) return;
    // Set up before the loop: the pointer (for lods/stos, esi), and for
    // `loop` the counter ecx.
    const ptr = implicit ? 6 : this.base;
    const ptrSet = this.setBefore(p, ptr, SETUP_WINDOW) || (this.index >= 0 && this.setBefore(p, this.index, SETUP_WINDOW));
    if (!ptrSet) return;
    const counter = closer == 0xe2 ? 1 : this.counter;
    if (counter != ptr && counter != this.index && !this.setBefore(p, counter, SETUP_WINDOW)) return;
    const meta = new Meta().str("form", form).str("register", REG32[this.base]);
    if (this.index >= 0) meta.str("index", REG32[this.index]);
    meta.str("loop", Scanner.loopName(this.at(q)));
    if (key.length) meta.str("key", key);
    this.report("xor-decoder-loop", "decoder", p, q + 2 - p, meta);
  }

  // ---- NOP sleds ----

  /** Reports the run [i, e) of one-byte no-op equivalents (at least minSledLength long) when it is a sled. */
  sled(i: i32, e: i32): void {
    const d = this.d;
    const len = e - i;
    const min = this.cfg.minSledLength;
    let high = 0;
    let n90 = 0;
    let distinct = 0;
    let top = 0;
    let period2 = 0;
    COUNT.fill(0);
    for (let k = i; k < e; k++) {
      const b = <i32>unchecked(d[k]);
      if (k >= i + 2 && b == <i32>unchecked(d[k - 2])) period2++;
      if (b >= 0x80) high++;
      if (b == 0x90) n90++;
      const c = unchecked(COUNT[b]) + 1;
      unchecked((COUNT[b] = c));
      if (c == 1) distinct++;
      if (c > top) top = c;
    }
    if (n90 == len) {
      this.report("nop-sled", "nop-sled", i, len, new Meta().str("kind", "0x90").num("distinct", 1));
      return;
    }
    // A generated sled (Metasploit single_byte, ADMmutate) draws many
    // equivalents at random, a quarter or more of them non-ASCII, none
    // dominating, no pattern; "AAAA" padding, text and the alternating byte
    // tables of compiled programs ("90 3f 90 40 90 43 ...") do not.
    if (distinct >= this.cfg.minSledDistinct && high * 4 >= len && top * 5 <= len * 2 && period2 * 4 <= len) {
      this.report("nop-sled", "nop-sled", i, len, new Meta().str("kind", "one-byte-equivalents").num("distinct", distinct));
      return;
    }
    // Otherwise the plain 0x90 runs inside it (padding "AAAA" + 0x90 sled).
    let k = i;
    while (k < e) {
      if (d[k] != 0x90) {
        k++;
        continue;
      }
      let r = k;
      while (r < e && d[r] == 0x90) r++;
      if (r - k >= min) this.report("nop-sled", "nop-sled", k, r - k, new Meta().str("kind", "0x90").num("distinct", 1));
      k = r;
    }
  }

  // ---- exact stubs ----

  stubs(i: i32): void {
    const first = <i32>unchecked(this.d[i]);
    const list = STUBS_BY_FIRST[first];
    if (list === null) return;
    for (let k = 0; k < list.length; k++) {
      const s = list[k];
      if (matches(this.d, i, s.bytes)) this.report(s.name, s.category, i, s.bytes.length, new Meta());
    }
  }

  run(): void {
    const d = this.d;
    const n = d.length;
    const base = d.dataStart;
    const minSled = this.cfg.minSledLength;
    // The hot loop keeps its state in locals: a field of `this` read per
    // byte costs several times the rest of the loop.
    let sledNext = 0;
    for (let i = 0; i < n; i++) {
      const b = <i32>load<u8>(base + <usize>i);
      if (i >= sledNext && unchecked(NOP[b])) {
        let e = i + 1;
        while (e < n && unchecked(NOP[load<u8>(base + <usize>e)])) e++;
        if (e - i >= minSled) this.sled(i, e);
        sledNext = e;
      }
      if (!unchecked(START[b])) continue;
      const pair = (b << 8) | (i + 1 < n ? <i32>load<u8>(base + <usize>(i + 1)) : 0);
      if (!unchecked(PAIR[pair])) continue;
      if (this.hits.length >= this.cfg.maxFindings) {
        this.dropped++;
        break;
      }
      switch (b) {
        case 0xe8:
          this.callPop(i);
          this.callPlus4(i);
          break;
        case 0xeb:
          this.jmpCallPop(i);
          break;
        case 0xd9:
          this.fnstenv(i);
          break;
        case 0x80:
        case 0x81:
        case 0x83:
        case 0x30:
        case 0x31:
        case 0xac:
        case 0xad:
          this.xorLoop(i);
          break;
      }
      if (unchecked(STUB_PAIR[pair])) this.stubs(i);
    }
  }
}

/** One-byte instructions that change nothing an exploit cares about (the Metasploit single_byte set). */
const NOP = new StaticArray<bool>(256);
const COUNT = new StaticArray<i32>(256);
const NOP_BYTES: u8[] = [
  0x90, 0x91, 0x92, 0x93, 0x95, 0x96, 0x97, // nop, xchg eax, r32 (not esp)
  0x40, 0x41, 0x42, 0x43, 0x45, 0x46, 0x47, // inc r32 (not esp)
  0x48, 0x49, 0x4a, 0x4b, 0x4d, 0x4e, 0x4f, // dec r32 (not esp)
  0x27, 0x2f, 0x37, 0x3f, // daa, das, aaa, aas
  0x98, 0x99, 0x9b, 0x9e, 0x9f, // cwde, cdq, fwait, sahf, lahf
  0xd6, 0xf5, 0xf8, 0xf9, 0xfc, 0xfd, // salc, cmc, clc, stc, cld, std
];
for (let k = 0; k < NOP_BYTES.length; k++) NOP[NOP_BYTES[k]] = true;

class Stub {
  constructor(
    public name: string,
    public category: string,
    /** bytes, -1 for any byte */
    public bytes: Int16Array,
  ) {}
}

function parseHex(spec: string): Int16Array {
  const parts = spec.split(" ");
  const out = new Int16Array(parts.length);
  for (let k = 0; k < parts.length; k++) out[k] = parts[k] == "??" ? -1 : <i16>I32.parseInt(parts[k], 16);
  return out;
}

function ascii(s: string): Int16Array {
  const out = new Int16Array(s.length);
  for (let k = 0; k < s.length; k++) out[k] = <i16>s.charCodeAt(k);
  return out;
}

function matches(d: Uint8Array, i: i32, p: Int16Array): bool {
  if (i + p.length > d.length) return false;
  for (let k = 1; k < p.length; k++) {
    const want = <i32>unchecked(p[k]);
    if (want >= 0 && <i32>unchecked(d[i + k]) != want) return false;
  }
  return true;
}

const STUBS: Stub[] = [
  // Metasploit x86/call4_dword_xor: call $+4; inc eax; pop esi; xor dword [esi+0xe], key; sub esi, -4; loop
  new Stub("msf-call4-dword-xor", "decoder", parseHex("E8 FF FF FF FF C0 5E 81 76 0E ?? ?? ?? ?? 83 EE FC E2 F4")),
  // Metasploit x86/countdown: call $+4; inc ecx; pop esi; xor [esi+ecx+7], cl; loop
  new Stub("msf-countdown", "decoder", parseHex("E8 FF FF FF FF C1 5E 30 4C 0E 07 E2 FA")),
  // Metasploit x86/fnstenv_mov: fldz; fnstenv [esp-0xc]; pop ebx; xor dword [ebx+0x13], key; sub ebx, -4; loop
  new Stub("msf-fnstenv-mov", "decoder", parseHex("D9 EE D9 74 24 F4 5B 81 73 13 ?? ?? ?? ?? 83 EB FC E2 F4")),
  // Metasploit x86/alpha_mixed decoder (printable)
  new Stub("msf-alpha-mixed", "decoder", ascii("jAXP0A0AkAAQ2AB2BB0BBABXP8ABuJI")),
  // Metasploit Windows block_api prologue: cld; call start; pushad; mov ebp, esp
  new Stub("msf-block-api", "stub", parseHex("FC E8 ?? 00 00 00 60 89 E5")),
  // mov r32, fs:[0x30] (the PEB), then PEB->Ldr->InMemoryOrderModuleList
  new Stub("win-peb-ldr-walk", "stub", parseHex("64 8B ?? 30 8B ?? 0C 8B ?? 14")),
  new Stub("win-peb-access", "stub", parseHex("64 A1 30 00 00 00")),
  new Stub("win-peb-access", "stub", parseHex("64 8B ?? 30 00 00 00")),
  // ror edi, 13; add edi, eax: the API name hash of Metasploit and most Windows shellcode
  new Stub("win-api-hash-ror13", "stub", parseHex("C1 CF 0D 01 C7")),
  new Stub("win-api-hash-ror13", "stub", parseHex("C1 CF 0D 03 F8")),
  // push "//sh"; push "/bin"
  new Stub("linux-x86-push-binsh", "stub", parseHex("68 2F 2F 73 68 68 2F 62 69 6E")),
  // push "n/sh"; push "//bi"
  new Stub("linux-x86-push-binsh", "stub", parseHex("68 6E 2F 73 68 68 2F 2F 62 69")),
  // mov al, 11 (execve); int 0x80 / push 11; pop eax; cdq (Metasploit linux/x86/exec)
  new Stub("linux-x86-execve", "stub", parseHex("B0 0B CD 80")),
  new Stub("linux-x86-execve", "stub", parseHex("6A 0B 58 99")),
  // mov al, 0x66 (socketcall); int 0x80
  new Stub("linux-x86-socketcall", "stub", parseHex("B0 66 CD 80")),
  // mov al, 0x3f (dup2); int 0x80
  new Stub("linux-x86-dup2", "stub", parseHex("B0 3F CD 80")),
  // mov r64, "/bin//sh"
  new Stub("linux-x64-movabs-binsh", "stub", parseHex("48 ?? 2F 62 69 6E 2F 2F 73 68")),
];

const STUBS_BY_FIRST = new StaticArray<Stub[] | null>(256);
/** Bytes a pattern can start with (the scan looks no further at any other byte). */
const START = new StaticArray<bool>(256);
const STARTS: u8[] = [0xe8, 0xeb, 0xd9, 0x80, 0x81, 0x83, 0x30, 0x31, 0xac, 0xad];
for (let k = 0; k < STARTS.length; k++) START[STARTS[k]] = true;
/** First two bytes a pattern can start with (checked before any detector runs). */
const PAIR = new StaticArray<bool>(65536);
/** First two bytes of a stub in STUBS. */
const STUB_PAIR = new StaticArray<bool>(65536);
for (let b1 = 0; b1 < 256; b1++) {
  if (b1 == 0 || b1 == 0xff) PAIR[0xe800 | b1] = true; // call $+5, call $+4
  if (b1 >= 2 && b1 <= 0x7f) PAIR[0xeb00 | b1] = true; // jmp short forward
  if (b1 < 0xc0 && (b1 & 0x38) == 0x30) {
    PAIR[0x8000 | b1] = true; // xor r/m8, imm8
    PAIR[0x8100 | b1] = true; // xor r/m32, imm32
    PAIR[0x8300 | b1] = true; // xor r/m32, imm8
  }
  if (b1 < 0xc0) {
    PAIR[0x3000 | b1] = true; // xor r/m8, r8
    PAIR[0x3100 | b1] = true; // xor r/m32, r32
  }
}
PAIR[0xd974] = true; // fnstenv [esp-0xc]
PAIR[0xac34] = true; // lodsb; xor al, imm8
PAIR[0xad35] = true; // lodsd; xor eax, imm32
for (let k = 0; k < STUBS.length; k++) {
  const b0 = <i32>STUBS[k].bytes[0];
  const b1 = <i32>STUBS[k].bytes[1];
  for (let x = 0; x < 256; x++) {
    if (b1 >= 0 && x != b1) continue;
    PAIR[(b0 << 8) | x] = true;
    STUB_PAIR[(b0 << 8) | x] = true;
  }
  START[b0] = true;
  const first = <i32>STUBS[k].bytes[0];
  let list = STUBS_BY_FIRST[first];
  if (list === null) {
    list = new Array<Stub>();
    STUBS_BY_FIRST[first] = list;
  }
  list.push(STUBS[k]);
}
