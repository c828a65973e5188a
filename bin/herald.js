#!/usr/bin/env node
// Herald runs its TypeScript sources directly: tsx compiles each module once, when it loads.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
