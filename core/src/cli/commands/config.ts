// honeytrap config check|default.
import { loadConfig } from '../../config/load.js';
import { defaultConfigText } from '../../config/default.js';
import { describePorts, expandPorts } from '../../config/ports.js';

export async function configCheckCommand(file: string): Promise<void> {
  const { config } = await loadConfig(file);
  const ports = [...expandPorts(config).keys()];
  process.stdout.write(
    `config ${file} is valid: ${config.capture.type} capture, ${ports.length} ports (${describePorts(ports)})\n`,
  );
}

export function configDefaultCommand(): void {
  process.stdout.write(defaultConfigText());
}
