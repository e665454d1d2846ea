/**
 * The import summary: what a capture gave, where each kind of row came
 * from, and what the importer left out because the capture does not say it.
 * Printed by the CLI and written into the imported trace's header comment,
 * which also explains what the trace's output streams show.
 */
import type { CaptureInput } from './qemuImport.js';

export interface ImportSummary {
  readonly capture: string;
  readonly qemu: string;
  readonly oracle: string;
  /** The smmu-replay profile whose ID registers match the capture's, if any. */
  readonly profile: string | undefined;
  readonly kernel: string | undefined;
  readonly log: { readonly lines: number; readonly bytes: number };
  /** The log cut at the snapshots; per phase, the dma rows by StreamID and QEMU's outcome (`0x8 translated`). */
  readonly phases: readonly { readonly name: string; readonly fromLine: number; readonly toLine: number; readonly dma: Record<string, number> }[];
  readonly rows: Record<string, number>;
  /** DMA rows by the outcome QEMU reported. */
  readonly dma: Record<string, number>;
  readonly checks: { readonly dma: number; readonly mmio_read: number; readonly mem_read: number };
  readonly sources: {
    readonly pteReads: number;
    readonly pteWrites: number;
    readonly steFetches: number;
    readonly cdFetches: number;
    readonly l1stdWrites: number;
    readonly structuresBySnapshot: Record<string, number>;
    readonly commands: number;
    readonly commandsBySnapshot: Record<string, number>;
    readonly commandsRaw: number;
    readonly page1Restored: number;
    /** event records the driver read, checked by mem_read rows against the queue memory of a snapshot. */
    readonly eventRecordsChecked: number;
    readonly eventRecordsBySnapshot: Record<string, number>;
  };
  readonly gaps: {
    /** dma rows with access `-`: the log does not say whether QEMU's access read or wrote. */
    readonly directionUnknown: number;
    /** dma rows without size=: the log does not give the access size. */
    readonly sizeUnknown: number;
    /** dma rows without expect=: the STE or CD they used is in no snapshot that can be trusted. */
    readonly unchecked: number;
    /** register accesses QEMU rejected (MemTxResult != 0): left out. */
    readonly mmioRejected: number;
    /** 8-byte accesses to 32-bit registers (CONSTRAINED UNPREDICTABLE, §6.2): left out. */
    readonly mmioUnpredictable: number;
    /** event records QEMU wrote (the log gives their type and StreamID only). */
    readonly eventRecords: number;
    /** of those, records the driver read that no snapshot holds reliably: no mem_read rows. */
    readonly eventRecordsUnchecked: number;
    /** guest_errors `Invalid read/write` lines that belong to no failed translation (non-SMMU accesses). */
    readonly otherInvalidAccesses: number;
  };
  /** Trace events read but not needed, by name (counts). */
  readonly ignored: Record<string, number>;
  /** ID registers read whose value differs from the profile's. */
  readonly idMismatches: readonly string[];
}

/** The summary as text lines (for the CLI and the trace header). */
export function summaryLines(s: ImportSummary): string[] {
  const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const g = s.gaps;
  const src = s.sources;
  const checks = s.checks.dma + s.checks.mmio_read + s.checks.mem_read;
  return [
    `capture ${s.capture}: QEMU ${s.qemu}${s.kernel ? `, kernel ${s.kernel}` : ''}; log ${s.log.lines} lines, ${s.log.bytes} bytes`,
    'phases (log lines: dma rows by StreamID and QEMU\'s outcome):',
    ...s.phases.map((p) => `  ${p.name} (${p.fromLine}-${p.toLine}): ${kv(p.dma)}`),
    `rows: ${kv(s.rows)}`,
    `dma rows by QEMU's outcome: ${kv(s.dma)}`,
    `checks: ${checks} (${s.checks.dma} dma expect=, ${s.checks.mmio_read} mmio_read expect=, ${s.checks.mem_read} mem_read expect=)`,
    `memory the SMMU read: ${src.pteReads} descriptor reads from smmu_get_pte (${src.pteWrites} mem_write rows where the value changed), ` +
      `${src.l1stdWrites} L1STD reads from smmuv3_find_ste_2lvl, ${src.steFetches} STE and ${src.cdFetches} CD fetches from snapshots (${kv(src.structuresBySnapshot)})`,
    `commands: ${src.commands} from command-queue memory (${kv(src.commandsBySnapshot)}), ${src.commandsRaw} as RAW, each checked against the opcode QEMU logged`,
    `event records: ${g.eventRecords} written by QEMU, ${src.eventRecordsChecked} read back by the driver and checked against queue memory (${kv(src.eventRecordsBySnapshot)})`,
    `Page 1 restored: ${src.page1Restored} EVENTQ/PRIQ PROD/CONS accesses logged at their Page 0 alias`,
    'not in the capture (left out, not invented):',
    `  ${g.directionUnknown} dma rows with direction unknown (access -, permissions not judged), ${g.sizeUnknown} with size unknown`,
    `  ${g.unchecked} dma rows without expect= (their STE/CD is in no trustworthy snapshot)`,
    `  ${g.eventRecordsUnchecked} event records the driver read that no snapshot holds reliably (not checked)`,
    `  ${g.mmioRejected} register accesses QEMU rejected, ${g.mmioUnpredictable} 8-byte accesses to 32-bit registers: left out`,
    `  ${g.otherInvalidAccesses} guest_errors 'Invalid read/write' lines that belong to no failed translation`,
    `profile: ${s.profile ?? `none matches QEMU ${s.qemu}`}${s.idMismatches.length ? `; ID registers that differ: ${s.idMismatches.join('; ')}` : s.profile ? ' (every ID register read matches)' : ''}`,
    `events read and not needed: ${kv(s.ignored)}`,
  ];
}

/** Break a long line at spaces; continuation lines are indented 4 more than the line. */
function wrap(line: string, width: number): string[] {
  const indent = ' '.repeat(line.length - line.trimStart().length + 4);
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(' ', width);
    if (cut <= indent.length) break;
    out.push(rest.slice(0, cut));
    rest = indent + rest.slice(cut + 1);
  }
  out.push(rest);
  return out;
}

export function headerLines(s: ImportSummary, inp: CaptureInput): string[] {
  const out = [
    `${s.capture}: a trace imported by 'smmu-replay import qemu-log' from a QEMU ${s.qemu} capture. Do not edit; re-import.`,
    '',
    `Replay: smmu-replay replay <this file>${s.profile ? ` (the meta,profile row selects --profile ${s.profile})` : ''}.`,
    `The expect= values are what QEMU ${s.qemu} reported (meta,oracle,${s.oracle}): a failed check that a documented`,
    'deviation of that QEMU from the architecture recognises (docs/qemu-deviations.md) is counted as explained.',
    '',
    'How the rows were made (docs/recording.md):',
    '- mmio_write/mmio_read: every SMMU register access in the log, in log order; reads carry expect= the value',
    '  QEMU returned. QEMU folds Page 1 onto Page 0 (it clears address bit 16), so the log shows EVENTQ_PROD/CONS',
    '  at 0xa8/0xac; they are put back at 0x100a8/0x100ac, where Linux accesses them (IHI 0070 §6.2).',
    '- cmd: each command a CMDQ_PROD write published, decoded from the command-queue memory of the first snapshot',
    '  after it (the log names only the opcode), and checked against the opcode, StreamID and ASID QEMU logged when',
    '  it consumed it. A cmd row publishes itself, so the logged CMDQ_PROD write after it finds nothing new.',
    '- mem_write: only memory the SMMU read, written just before the transaction that read it, and only where the',
    '  value differs from what the trace already holds: translation-table descriptors at the value smmu_get_pte',
    '  logged when QEMU walked; L1 stream-table descriptors from smmuv3_find_ste_2lvl; STEs and CDs as the first',
    '  snapshot after the fetch holds them (or the last one before it), taken only when no CFGI for that StreamID',
    '  lies between the fetch and the snapshot, and checked against the CD address and TTB QEMU logged.',
    '- mem_read: each event record the driver consumed (before the EVENTQ_CONS write that moves past it), expect=',
    '  the record QEMU wrote, as the event-queue memory of the first snapshot after it holds it.',
    '- dma: one row per translate call QEMU logged (QEMU translates each access separately, so a faulting',
    '  32-byte device read is eight 4-byte transactions), expect= QEMU\'s outcome. priv=0: a PCIe request without',
    '  a PASID TLP prefix is Unprivileged Data (IHI 0070 §13.7).',
    '',
    'Not in the capture, so left out (never invented):',
    '- the direction and size of successful and bypassed DMA: access - (translated as a read, permissions not',
    '  judged) and the default size; a faulting access takes both from the memory core\'s guest_errors line;',
    '- STE/CD values the SMMU never read (intermediate states between two CFGIs, entries no DMA used), and memory',
    '  contents between the points where the SMMU read them;',
    '- the contents of event records the driver did not read back (the log gives only type and StreamID).',
    '',
    'What the outputs show:',
    '- STE stream: store rows (state observed: meta,memory,observed) where the SMMU first read each entry, not',
    '  where the CPU wrote it, so no update window is judged; cfgi rows show the entry as the trace holds it',
    '  then (the last value read: V=0 before a StreamID was first read); fetch rows where the model filled',
    '  its configuration cache.',
    '- fault stream: the model\'s event record for each transaction QEMU faulted; a check row for each expect=',
    '  the model did not reproduce (type explained: a documented QEMU deviation, named in the row).',
    '- DMA stream: the model\'s outcome of every transaction QEMU translated, bypassed or faulted, in log order',
    '  (all of them: each is a check against QEMU; the phases below say which StreamIDs did what when).',
    '',
    'Import summary:',
    ...summaryLines(s).flatMap((l) => wrap(`  ${l}`, 112)),
  ];
  if (inp.notes) {
    out.push('', 'The capture\'s own description (its README.md):', ...inp.notes.replace(/\s+$/, '').split('\n').map((l) => `  ${l}`));
  }
  return out.map((l) => (l ? `# ${l}` : '#'));
}

