#!/usr/bin/env node
// The kit ships TypeScript sources; tsx compiles each module once, when it loads.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
