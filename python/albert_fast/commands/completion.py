"""`albert-fast completion [bash|zsh|fish]`: the shell code that completes albert-fast's verbs and
flags (argcomplete), to be evaluated by the shell."""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "fish", "tcsh", "powershell")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "completion", help="print the shell code for tab completion of verbs and flags",
        description="Print the shell code that makes TAB complete albert-fast's verbs, flags "
        "(--max_seq_length, --do_whole_word_mask=false, ...) and their file arguments "
        "(argcomplete). Enable it for the current shell, or add the line to ~/.bashrc / "
        "~/.zshrc:\n\n"
        '  eval "$(albert-fast completion bash)"\n'
        '  eval "$(albert-fast completion zsh)"\n'
        "  albert-fast completion fish | source",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shell", nargs="?", default="bash", choices=SHELLS,
                   help="the shell (default: bash)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import argcomplete

    print(argcomplete.shellcode(["albert-fast"], shell=args.shell), end="")
    return 0
