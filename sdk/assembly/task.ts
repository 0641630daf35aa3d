// The task's bytes, and the one function the host grants.
import { base64Field } from "./base64";
import { jsonRaw } from "./json";

/** One line in the daemon's log, attributed to the plugin (at most 100 lines of 1000 characters per task). */
@external("honeytrap", "log")
export declare function log(message: string): void;

/** The bytes the attacker sent (attack.received.data, decoded). */
export function receivedBytes(input: string): Uint8Array {
  return base64Field(input, "attack.received.data");
}

/** The bytes sent back to the attacker (attack.sent.data, decoded). */
export function sentBytes(input: string): Uint8Array {
  return base64Field(input, "attack.sent.data");
}

/** In an artifact task, the artifact's bytes; empty otherwise. */
export function artifactBytes(input: string): Uint8Array {
  return base64Field(input, "artifact.data");
}

/** Whether the task is an artifact task ("kind": "artifact") rather than an attack. */
export function isArtifactTask(input: string): bool {
  const kind = jsonRaw(input, "kind");
  return kind !== null && kind == '"artifact"';
}

/** What the task is about: the artifact's bytes in an artifact task, the received bytes otherwise. */
export function taskBytes(input: string): Uint8Array {
  return isArtifactTask(input) ? artifactBytes(input) : receivedBytes(input);
}

/** Bytes as text, one character per byte (latin1): string offsets are byte offsets. */
export function latin1(bytes: Uint8Array): string {
  const units = new Uint16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) units[i] = bytes[i];
  return String.UTF16.decode(units.buffer);
}

/** The received bytes as latin1 text. */
export function receivedText(input: string): string {
  return latin1(receivedBytes(input));
}
