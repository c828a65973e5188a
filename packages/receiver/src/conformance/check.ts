import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { ProfileName } from "../verify/outcome.js";
import { type Answer, CASES, type CaseContext } from "./cases.js";
import { SENDERS, type WireRequest } from "./requests.js";

export interface CheckOptions {
  url: string;
  profile: ProfileName;
  secret: string;
  rotatedSecret?: string;
  /** Per request. Default 5 s. */
  timeoutMs?: number;
}

export type Grade = "pass" | "warn" | "fail" | "skip";

export interface CaseResult {
  name: string;
  expect: "accept" | "reject";
  status: number;
  ms: number;
  grade: Grade;
  note: string;
}

export interface ConformanceReport {
  url: string;
  profile: ProfileName;
  results: CaseResult[];
  /** No case failed (warnings allowed). */
  passed: boolean;
  table: string;
}

/** An acknowledgement slower than this misses Sendbird Calls' 1 s per-attempt budget. */
const SLOW_ACK_MS = 1_000;

function send(
  url: string,
  timeoutMs: number,
  wire: WireRequest,
  options: { chunks?: number; chunkDelayMs?: number } = {},
) {
  // Timed from the last byte sent: a slow client's own dawdling is not the receiver's latency.
  let lastByteAt = performance.now();
  const elapsed = () => Math.round(performance.now() - lastByteAt);
  const request = url.startsWith("https:") ? httpsRequest : httpRequest;
  return new Promise<Answer>((resolve) => {
    const req = request(url, {
      method: "POST",
      headers: { ...wire.headers, "content-length": String(wire.body.length) },
      timeout: timeoutMs,
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: elapsed() }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (error) => resolve({ status: 0, ms: elapsed(), error: error.message }));
    const chunks = options.chunks ?? 1;
    const size = Math.ceil(wire.body.length / chunks);
    const writeChunk = (index: number) => {
      if (req.destroyed) return;
      if (index >= chunks) {
        req.end();
        return;
      }
      req.write(wire.body.subarray(index * size, (index + 1) * size));
      lastByteAt = performance.now();
      setTimeout(() => writeChunk(index + 1), options.chunkDelayMs ?? 0);
    };
    writeChunk(0);
  });
}

function grade(expect: "accept" | "reject", answer: Answer): { grade: Grade; note: string } {
  const { status, ms, error } = answer;
  if (status === 0) return { grade: "fail", note: error ?? "no answer" };
  const ok = status >= 200 && status < 300;
  if (expect === "accept") {
    if (!ok) return { grade: "fail", note: `a valid request was refused with ${status}` };
    return ms > SLOW_ACK_MS
      ? { grade: "warn", note: `answered after ${ms} ms: handle later, answer at once` }
      : { grade: "pass", note: "" };
  }
  if (ok) return { grade: "fail", note: "accepted a request it must refuse" };
  if (status >= 500) return { grade: "warn", note: `refused with ${status}: senders retry 5xx, so refuse with 4xx` };
  return { grade: "pass", note: "" };
}

function tabulate(report: Omit<ConformanceReport, "table">): string {
  const rows = report.results.map((r) => [
    r.name,
    r.expect === "accept" ? "2xx" : "4xx",
    r.grade === "skip" ? "-" : `${r.status || "none"} in ${r.ms} ms`,
    r.grade.toUpperCase(),
    r.note,
  ]);
  const header = ["case", "expect", "got", "grade", "note"];
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const count = (g: Grade) => report.results.filter((r) => r.grade === g).length;
  return [
    `herald-receiver check ${report.url} (profile ${report.profile})`,
    line(header),
    ...rows.map(line),
    `${count("pass")} pass, ${count("warn")} warn, ${count("fail")} fail, ${count("skip")} skip: ${report.passed ? "PASSED" : "FAILED"}`,
  ].join("\n");
}

/** Fires every case at the receiver, one after another, and grades the answers. */
export async function runConformanceCheck(options: CheckOptions): Promise<ConformanceReport> {
  const sender = SENDERS[options.profile];
  if (!sender) throw new Error(`unknown profile ${options.profile}: sendbird, stream or standard-webhooks`);
  const context: CaseContext = {
    sender,
    secret: options.secret,
    rotatedSecret: options.rotatedSecret,
    send: (wire, sendOptions) => send(options.url, options.timeoutMs ?? 5_000, wire, sendOptions),
  };
  const results: CaseResult[] = [];
  for (const testCase of CASES) {
    const skipped = testCase.skip?.(context);
    if (skipped) {
      results.push({ name: testCase.name, expect: testCase.expect, status: 0, ms: 0, grade: "skip", note: skipped });
      continue;
    }
    const answer = await testCase.run(context);
    results.push({
      name: testCase.name,
      expect: testCase.expect,
      status: answer.status,
      ms: answer.ms,
      ...grade(testCase.expect, answer),
    });
  }
  const report = {
    url: options.url,
    profile: options.profile,
    results,
    passed: results.every((r) => r.grade !== "fail"),
  };
  return { ...report, table: tabulate(report) };
}
