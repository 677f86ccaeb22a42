#!/usr/bin/env node
// Finds the LibTorch to build against. The one place that decides it: CMake
// (cmake/torch.cmake) asks `node scripts/libtorch.mjs cmake-dir`, binding.gyp asks
// `node scripts/libtorch.mjs gyp <key>`, and the install script calls findLibTorch().
//
// Order: an explicit CMake definition (-DTorch_DIR / cmake-js --CDTorch_DIR), the
// LIBTORCH or Torch_DIR environment variables, a Python PyTorch
// (torch.utils.cmake_prefix_path), the system's CMake package (Debian's libtorch-dev).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Folders under a LibTorch root (archive, pip package, /usr) that may hold TorchConfig.cmake. */
function configCandidates(dir) {
  const multiarch = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" }[process.arch];
  return [
    dir,
    join(dir, "Torch"),
    join(dir, "share", "cmake", "Torch"),
    join(dir, "lib", "cmake", "Torch"),
    ...(multiarch ? [join(dir, "lib", multiarch, "cmake", "Torch")] : []),
  ];
}

function configDirIn(dir) {
  return configCandidates(dir).find((d) => existsSync(join(d, "TorchConfig.cmake")));
}

function pythonTorchDir(python) {
  try {
    const out = execFileSync(python, ["-c", "import torch.utils, os; print(os.path.join(torch.utils.cmake_prefix_path, 'Torch'))"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 60_000,
    });
    return out.trim().split("\n").pop();
  } catch {
    return undefined;
  }
}

const FIXES = {
  explicit: "pass the folder that holds TorchConfig.cmake, e.g. --CDTorch_DIR=/path/to/libtorch/share/cmake/Torch",
  env: "point it at an unpacked LibTorch archive (the folder with include/ and lib/) or at the folder holding TorchConfig.cmake, or unset it",
  python: "pip install torch (CPU or CUDA build) into the python3 on PATH",
  system: "on Debian/Ubuntu: sudo apt-get install libtorch-dev libgloo-dev libopenblas0-openmp (or run scripts/setup-debian.sh)",
};

const SYSTEM_ROOTS = ["/usr", "/usr/local", "/opt/libtorch", "/usr/local/libtorch"];

/**
 * Returns { torchDir, source } or throws an Error whose message lists every place
 * tried and the fix for each. `pythons` and `systemRoots` exist for tests.
 * @param {{ explicit?: string, env?: NodeJS.ProcessEnv, pythons?: string[], systemRoots?: string[] }} [options]
 */
export function findLibTorch({ explicit, env = process.env, pythons = ["python3", "python"], systemRoots = SYSTEM_ROOTS } = {}) {
  const tried = [];
  const fail = (lines) => {
    const err = new Error(
      [
        "sere-torch: no usable LibTorch found. Places tried, in order:",
        ...lines.map((l, i) => `  ${i + 1}. ${l}`),
        "Set one of them up and run `npm run build:native` (or `npm install`) again.",
      ].join("\n"),
    );
    err.code = "SERE_NO_LIBTORCH";
    return err;
  };

  if (explicit && !/NOTFOUND$/.test(explicit)) {
    const dir = configDirIn(resolve(explicit));
    if (dir) return { torchDir: dir, source: "CMake definition Torch_DIR" };
    throw fail([`CMake definition Torch_DIR=${explicit}: no TorchConfig.cmake there. Fix: ${FIXES.explicit}.`]);
  }
  tried.push(`CMake definition Torch_DIR: not given. Fix: ${FIXES.explicit}.`);

  for (const name of ["LIBTORCH", "Torch_DIR"]) {
    const value = env[name];
    if (!value) {
      tried.push(`environment variable ${name}: not set. Fix: export ${name}=/path/to/libtorch.`);
      continue;
    }
    const dir = configDirIn(resolve(value));
    if (dir) return { torchDir: dir, source: `environment variable ${name}` };
    // An explicit setting that is wrong is an error, not something to silently skip.
    throw fail([
      ...tried,
      `environment variable ${name}=${value}: no LibTorch there (no TorchConfig.cmake in ${relativeCandidates(value)}). Fix: ${FIXES.env}.`,
    ]);
  }

  for (const python of pythons) {
    const dir = pythonTorchDir(python);
    if (dir && configDirIn(dir)) return { torchDir: configDirIn(dir), source: `Python PyTorch (${python})` };
    tried.push(
      `Python PyTorch via \`${python} -c "import torch"\`: ${dir ? `no TorchConfig.cmake in ${dir}` : "not importable"}. Fix: ${FIXES.python}.`,
    );
  }

  for (const prefix of systemRoots) {
    const dir = configDirIn(prefix);
    if (dir) return { torchDir: dir, source: "system CMake package" };
  }
  tried.push(`system CMake package under ${systemRoots.join(", ")}: not installed. Fix: ${FIXES.system}.`);
  throw fail(tried);
}

function relativeCandidates(value) {
  return configCandidates(resolve(value)).join(", ");
}

// ---- What binding.gyp needs: flags from the same CMake logic as the main build ----

/** Runs a tiny CMake project (scripts/torch-probe) that includes cmake/torch.cmake and reports its result. */
function probe(torchDir) {
  const buildDir = join(root, "build", "torch-probe");
  const cache = join(buildDir, "probe.json");
  if (existsSync(cache)) {
    const cached = JSON.parse(readFileSync(cache, "utf8"));
    if (cached.torchDir === torchDir) return cached;
  }
  mkdirSync(buildDir, { recursive: true });
  execFileSync("cmake", ["-S", join(root, "scripts", "torch-probe"), "-B", buildDir, `-DTorch_DIR=${torchDir}`, `-DPROBE_OUT=${cache}`], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return JSON.parse(readFileSync(cache, "utf8"));
}

/** Every C++ source of the addon; CMake globs the same folder. */
function sources() {
  const walk = (dir) =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : path.endsWith(".cc") ? [path] : [];
    });
  return walk(join(root, "native"))
    .map((p) => relative(root, p))
    .sort();
}

function gyp(key) {
  if (key === "sources") return sources();
  const { torchDir } = findLibTorch();
  const p = probe(torchDir);
  switch (key) {
    case "include_dirs":
      return p.includeDirs;
    case "cflags":
      return p.cxxFlags;
    case "torch_dir":
      return [torchDir];
    case "cuda":
      return [p.cuda ? "1" : "0"];
    case "libraries":
      return [...p.libDirs.flatMap((d) => [`-L${d}`, `-Wl,-rpath,${d}`]), "-Wl,--no-as-needed", ...p.libs.map((l) => `-l${l}`), "-Wl,--as-needed"];
    default:
      throw new Error(`unknown key ${key}`);
  }
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const [command, arg, value] = process.argv.slice(2);
  try {
    if (command === "cmake-dir") {
      // cmake/torch.cmake passes an explicit definition through as `--explicit <dir>`.
      const { torchDir, source } = findLibTorch({ explicit: arg === "--explicit" ? value : undefined });
      process.stderr.write(`sere-torch: LibTorch from ${source}: ${torchDir}\n`);
      process.stdout.write(torchDir);
    } else if (command === "gyp") {
      // gyp splits <!@(...) output on whitespace; quote nothing that has none.
      process.stdout.write(gyp(arg).join(" "));
    } else {
      process.stderr.write("usage: libtorch.mjs cmake-dir [--explicit DIR] | gyp <sources|include_dirs|cflags|libraries|torch_dir|cuda>\n");
      process.exit(2);
    }
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
