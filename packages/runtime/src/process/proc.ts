import fsp from 'node:fs/promises';

/** The fields of `/proc/<pid>/stat` the process runtime needs. */
export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie), T, ... */
  state: string;
  ppid: number;
  pgrp: number;
  /** Clock ticks since boot at which the process started: with the pid, it names one process
   * for the machine's uptime, so a recycled pid is never mistaken for ours. */
  startTime: string;
}

export function parseProcStat(text: string): ProcStat | undefined {
  // comm (field 2) is in parentheses and may itself contain spaces and ')'.
  const close = text.lastIndexOf(')');
  const open = text.indexOf('(');
  if (open < 0 || close < 0) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const state = rest[0];
  const ppid = Number(rest[1]);
  const pgrp = Number(rest[2]);
  const startTime = rest[19];
  if (!state || !startTime || !Number.isInteger(pid)) return undefined;
  return { pid, state, ppid, pgrp, startTime };
}

export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await fsp.readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Live (not zombie) processes whose process group is `pgid`. */
export async function processGroupMembers(pgid: number): Promise<ProcStat[]> {
  const entries = await fsp.readdir('/proc');
  const members: ProcStat[] = [];
  await Promise.all(
    entries.map(async (name) => {
      if (!/^\d+$/.test(name)) return;
      const st = await readProcStat(Number(name));
      if (st && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X') members.push(st);
    }),
  );
  return members;
}
