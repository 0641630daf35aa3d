// ftp-download: fetches what an attack points at over FTP, from the attacking
// host only: ftp:// URLs, busybox `ftpget` lines and scripted FTP dialogues
// (./script.ts reads both). Every attempt is a `download` finding; each file
// fetched is an artifact with its hashes and type (the SDK's downloadPlugin
// does the fetching and the recording).
import { downloadPlugin, downloadUrl, type DownloadTarget } from '@honeytrap/sdk';
import { ftpScripts, ftpgets, type FtpDownload } from './script.js';

const target = (d: FtpDownload): DownloadTarget => ({
  url: downloadUrl('ftp', d),
  offset: d.offset,
  via: d.via,
});

export default downloadPlugin({
  schemes: ['ftp'],
  commands: (text) => [...ftpgets(text), ...ftpScripts(text)].map(target),
});
