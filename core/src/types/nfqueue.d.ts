// The parts of the `nfqueue` binding (no types of its own) that the capture uses.
declare module 'nfqueue' {
  export const NF_DROP: number;
  export const NF_ACCEPT: number;
  export interface NFQueuePacket {
    info: { id: number; len: number; indev_name?: string };
    payload: Buffer;
    setVerdict(verdict: number, mark?: number | null, buffer?: Buffer | null): void;
  }
  export function createQueueHandler(
    num: number,
    bufferSize: number,
    callback: (packet: NFQueuePacket) => void,
  ): unknown;
}
