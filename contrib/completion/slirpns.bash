# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for slirpns(1)                                    -*- shell-script -*-
#
# `make install` puts this file where bash-completion finds it (the directory that
# `pkg-config --variable=completionsdir bash-completion` names, or
# $(datadir)/bash-completion/completions). To try it without installing:
#     source contrib/completion/slirpns.bash
# It works with or without the bash-completion package loaded.
#
# Completes: option names; --netns-type, --target-type and the fast paths' values; file
# names for --api-socket, --userns-path and --pcap; interface names for --outbound-addr and
# --outbound-addr6; suggested MTUs; the positional PID (process ids), PATH (files) or nothing
# for an FD, following --netns-type, or the BESS socket's PATH with --target-type=bess; tap0
# for TAPNAME. tests/contrib.sh checks that the option list
# below holds exactly the long options of `slirpns --help`.

_slirpns_long_opts="--configure --exit-fd= --ready-fd= --mtu= --cidr= --cidr6= --enable-ipv6
--api-socket= --disable-host-loopback --no-host-loopback --netns-type= --userns-path=
--enable-sandbox --create-sandbox --enable-seccomp --outbound-addr= --outbound-addr6=
--disable-dns --macaddress= --target-type= --no-offload --port-fast-path= --outbound-fast-path= --io-uring= --publish= --pcap=
--pcap-max-size= --debug --max-tcp= --max-half-open= --max-udp= --max-buffered= --udp-timeout= --help --version"
_slirpns_short_opts="-c -e -r -m -6 -a -p -h -v"

# Options that take their value as the next word when not written as --opt=value.
_slirpns_takes_arg() {
	case $1 in
	-e | -r | -m | -a | -p | --exit-fd | --ready-fd | --mtu | --cidr | --cidr6 | --api-socket | \
		--netns-type | --userns-path | --outbound-addr | --outbound-addr6 | --macaddress | \
		--target-type | --port-fast-path | --outbound-fast-path | --io-uring | --publish | --pcap | --pcap-max-size | \
		--max-tcp | --max-half-open | --max-udp | --max-buffered | --udp-timeout) return 0 ;;
	esac
	return 1
}

# Fill COMPREPLY with the values of option $1 that start with $2.
_slirpns_values() {
	local opt=$1 cur=$2
	case $opt in
	--netns-type)
		mapfile -t COMPREPLY < <(compgen -W "pid path tapfd" -- "$cur")
		;;
	--target-type)
		mapfile -t COMPREPLY < <(compgen -W "netns bess" -- "$cur")
		;;
	--port-fast-path)
		mapfile -t COMPREPLY < <(compgen -W "auto tcp off" -- "$cur")
		;;
	--outbound-fast-path | --io-uring)
		mapfile -t COMPREPLY < <(compgen -W "auto off" -- "$cur")
		;;
	-a | --api-socket | --userns-path | --pcap)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	--outbound-addr | --outbound-addr6)
		local ifaces
		ifaces=$(ls /sys/class/net 2>/dev/null)
		mapfile -t COMPREPLY < <(compgen -W "$ifaces" -- "$cur")
		;;
	-m | --mtu)
		mapfile -t COMPREPLY < <(compgen -W "1500 65520" -- "$cur")
		;;
	--cidr)
		mapfile -t COMPREPLY < <(compgen -W "10.0.2.0/24" -- "$cur")
		;;
	--cidr6)
		mapfile -t COMPREPLY < <(compgen -W "fd00::/64" -- "$cur")
		;;
	*)
		COMPREPLY=() # file descriptors, MAC addresses, port specs: nothing to offer
		;;
	esac
}

_slirpns() {
	local cur prev i word opt netns_type=pid target_type=netns npos=0
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]:-}

	# bash splits "--opt=val" at '=' (COMP_WORDBREAKS): the words are "--opt" "=" "val".
	if [ "$cur" = "=" ] && [[ $prev == --* ]]; then
		_slirpns_values "$prev" ""
		return 0
	fi
	if [ "$prev" = "=" ] && [ "$COMP_CWORD" -ge 2 ]; then
		_slirpns_values "${COMP_WORDS[COMP_CWORD - 2]}" "$cur"
		return 0
	fi
	# Without that split (COMP_WORDBREAKS changed): "--opt=val" in one word.
	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		_slirpns_values "$opt" "${cur#*=}"
		local j
		for j in "${!COMPREPLY[@]}"; do COMPREPLY[j]="$opt=${COMPREPLY[j]}"; done
		return 0
	fi
	if _slirpns_takes_arg "$prev"; then
		_slirpns_values "$prev" "$cur"
		return 0
	fi
	if [[ $cur == -* ]]; then
		local o
		mapfile -t COMPREPLY < <(compgen -W "$_slirpns_long_opts $_slirpns_short_opts" -- "$cur")
		# Options ending in '=' take a value: do not add a space after them.
		for o in "${COMPREPLY[@]}"; do
			[[ $o == *= ]] && compopt -o nospace 2>/dev/null
		done
		return 0
	fi

	# A positional argument: which one, and what --netns-type says the first one is.
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		case $word in
		--netns-type) [ "${COMP_WORDS[i + 1]:-}" = "=" ] && i=$((i + 1))
			netns_type=${COMP_WORDS[i + 1]:-pid}
			i=$((i + 1)) ;;
		--netns-type=*) netns_type=${word#*=} ;;
		--target-type) [ "${COMP_WORDS[i + 1]:-}" = "=" ] && i=$((i + 1))
			target_type=${COMP_WORDS[i + 1]:-netns}
			i=$((i + 1)) ;;
		--target-type=*) target_type=${word#*=} ;;
		=) i=$((i + 1)) ;; # "--opt" "=" "value": skip the value
		-*) _slirpns_takes_arg "$word" && [ "${COMP_WORDS[i + 1]:-}" != "=" ] && i=$((i + 1)) ;;
		*) npos=$((npos + 1)) ;;
		esac
	done
	if [ "$target_type" = bess ]; then
		# PATH, the BESS socket, is the only argument.
		if [ "$npos" = 0 ]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi
	elif [ "$npos" = 0 ]; then
		case $netns_type in
		path)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			;;
		tapfd) COMPREPLY=() ;;
		*)
			local pids
			pids=$(cd /proc 2>/dev/null && printf '%s\n' [0-9]*)
			mapfile -t COMPREPLY < <(compgen -W "$pids" -- "$cur")
			;;
		esac
	elif [ "$npos" = 1 ]; then
		mapfile -t COMPREPLY < <(compgen -W "tap0" -- "$cur")
	fi
	return 0
}
complete -F _slirpns slirpns
