package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// bashCompletion asks the program itself for the words to complete
// (urfave/cli's --generate-bash-completion) and falls back to file names.
const bashCompletion = `# bash completion for %[1]s; load with: source <(%[1]s completion bash)
_%[1]s_complete() {
	local cur="${COMP_WORDS[COMP_CWORD]}" words
	words=$("${COMP_WORDS[@]:0:COMP_CWORD}" ${cur:+"$cur"} --generate-bash-completion 2>/dev/null)
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -o bashdefault -F _%[1]s_complete %[1]s
`

// zshCompletion works both sourced and installed as _PROG in $fpath,
// where compinit autoloads the file as the body of _PROG: the first call
// then defines the function and completes.
const zshCompletion = `#compdef %[1]s
# zsh completion for %[1]s; load with: source <(%[1]s completion zsh)
_%[1]s() {
	local -a candidates
	candidates=(${(f)"$(${words[@]:0:$((CURRENT-1))} ${words[CURRENT]:+"${words[CURRENT]}"} --generate-bash-completion 2>/dev/null)"})
	_describe 'values' candidates
	_files
}
if [ "$funcstack[1]" = "_%[1]s" ]; then
	_%[1]s "$@"
else
	compdef _%[1]s %[1]s
fi
`

func completionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "SHELL",
		Action: func(c *cli.Context) error {
			prog := c.App.Name
			switch c.Args().First() {
			case "bash":
				fmt.Fprintf(e.stdout, bashCompletion, prog)
			case "zsh":
				fmt.Fprintf(e.stdout, zshCompletion, prog)
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				fmt.Fprint(e.stdout, s)
			default:
				return usagef("completion takes one of bash, zsh, fish")
			}
			return nil
		},
	}
}

func manCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the manual page (troff), generated from the command-line definition",
		Hidden: true,
		Action: func(c *cli.Context) error {
			s, err := c.App.ToManWithSection(1)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(e.stdout, s)
			return err
		},
	}
}
