import { Argument, type Command } from "commander";
import { say } from "../shared.js";

/**
 * `herald completion bash|zsh`: a completion script made from the command tree itself, so it can
 * never fall behind the commands. zsh runs the bash script through `bashcompinit`.
 */

/** Every command path ("" for the root, "deliveries list", …) with the words that may follow it. */
export function completionTable(root: Command): Map<string, string[]> {
  const table = new Map<string, string[]>();
  const visit = (command: Command, path: string) => {
    const words = [
      ...command.commands.flatMap((child) => [child.name(), ...child.aliases()]),
      ...command.options.flatMap((option) =>
        [option.long, option.short].filter((flag): flag is string => Boolean(flag)),
      ),
      "--help",
    ];
    table.set(path, [...new Set(words)]);
    for (const child of command.commands) {
      for (const name of [child.name(), ...child.aliases()]) visit(child, path === "" ? name : `${path} ${name}`);
    }
  };
  visit(root, "");
  return table;
}

function bashScript(root: Command): string {
  const cases = [...completionTable(root)]
    .map(([path, words]) => `    "${path}") words="${words.join(" ")}" ;;`)
    .join("\n");
  const paths = [...completionTable(root).keys()]
    .filter(Boolean)
    .map((path) => `"${path}"`)
    .join(" ");
  return `# herald completion (bash): eval "$(herald completion bash)", or save it under bash-completion's completions
_herald() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w words=""
  local -a known=(${paths})
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    local next="\${path:+$path }$w"
    local k; for k in "\${known[@]}"; do [[ "$k" == "$next" ]] && path="$next" && break; done
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _herald herald
`;
}

export function registerCompletionCommand(program: Command): void {
  program
    .command("completion")
    .description('Print a shell completion script: eval "$(herald completion bash)" (or zsh)')
    .addArgument(new Argument("<shell>", "bash or zsh").choices(["bash", "zsh"]))
    .action((shell: "bash" | "zsh", _options: unknown, command: Command) => {
      let root = command;
      while (root.parent) root = root.parent;
      const script = bashScript(root);
      say(
        shell === "bash"
          ? script
          : `# herald completion (zsh): eval "$(herald completion zsh)" in ~/.zshrc\nautoload -U +X bashcompinit && bashcompinit\n${script}`,
      );
    });
}
