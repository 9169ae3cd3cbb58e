# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for slirpnsctl(1)                                 -*- shell-script -*-
#
# Installed as "slirpnsctl" next to the slirpns completion (see slirpns.bash). To try it
# without installing: source contrib/completion/slirpnsctl.bash
#
# Completes: option names; socket files for -a/--api-socket; the commands; tcp/udp after
# "add"; and, after "remove", the ids of the forwards that `slirpnsctl -a SOCKET list` shows
# when the socket is already on the command line. tests/contrib.sh checks that the option
# list below holds exactly the long options of `slirpnsctl --help`.

_slirpnsctl_long_opts="--api-socket= --json --timeout= --help --version"
_slirpnsctl_short_opts="-a -j -t -h"
_slirpnsctl_commands="add list remove info connections"

_slirpnsctl() {
	local cur prev i word sock="" cmd="" nargs=0
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]:-}

	# bash splits "--opt=val" at '=': the words are "--opt" "=" "val".
	if [ "$cur" = "=" ] && [[ $prev == --* ]]; then
		prev=$prev cur=""
	elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -ge 2 ]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi
	case $prev in
	-a | --api-socket)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
		;;
	-t | --timeout)
		mapfile -t COMPREPLY < <(compgen -W "10 30" -- "$cur")
		return 0
		;;
	esac
	if [[ $cur == -* ]]; then
		local o
		mapfile -t COMPREPLY < <(compgen -W "$_slirpnsctl_long_opts $_slirpnsctl_short_opts" -- "$cur")
		for o in "${COMPREPLY[@]}"; do
			[[ $o == *= ]] && compopt -o nospace 2>/dev/null
		done
		return 0
	fi

	# Find the socket, the command and how many of its arguments precede the cursor.
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		case $word in
		-a | --api-socket | -t | --timeout)
			[ "${COMP_WORDS[i + 1]:-}" = "=" ] && i=$((i + 1))
			case $word in -a | --api-socket) sock=${COMP_WORDS[i + 1]:-} ;; esac
			i=$((i + 1)) ;;
		--api-socket=*) sock=${word#*=} ;;
		-*) ;;
		*) if [ -z "$cmd" ]; then cmd=$word; else nargs=$((nargs + 1)); fi ;;
		esac
	done
	case $cmd in
	"")
		mapfile -t COMPREPLY < <(compgen -W "$_slirpnsctl_commands" -- "$cur")
		;;
	add)
		[ "$nargs" = 0 ] && mapfile -t COMPREPLY < <(compgen -W "tcp udp" -- "$cur")
		;;
	remove)
		if [ -n "$sock" ]; then
			local ids
			ids=$(slirpnsctl -t 2 -a "$sock" list 2>/dev/null | awk 'NR > 1 { print $1 }')
			mapfile -t COMPREPLY < <(compgen -W "$ids" -- "$cur")
		fi
		;;
	esac
	return 0
}
complete -F _slirpnsctl slirpnsctl
