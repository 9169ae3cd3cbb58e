# SPDX-License-Identifier: GPL-2.0-or-later
# chart.gp - draws bench-out/chart.png from the data files bench.py summarise writes.
#
#   gnuplot -e "outdir='bench-out'" contrib/bench/chart.gp
#
# Top: median throughput of each contender (Gbit/s, log scale) for the TCP and UDP throughput
# rows at both MTUs. Bottom: for every measurement, how many times better slirpns is than
# slirp4netns, than pasta and than veth, the physical limit (throughput: slirpns/other;
# lower-is-better metrics: other/slirpns),
# log scale, so bars above the 1x line mean slirpns wins.

if (!exists("outdir")) outdir = "bench-out"
set terminal pngcairo size 1400,1000 font "DejaVu Sans,10"
set output outdir."/chart.png"
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set rmargin 10
set multiplot layout 2,1 title "slirpns vs slirp4netns vs pasta vs veth (medians over rounds)"

set title "Throughput (iperf3)"
set ylabel "Gbit/s"
set logscale y
set xtics rotate by -20 nomirror
plot outdir."/chart-tput.dat" using 2:xtic(1) title "slirpns" lc rgb "#1f77b4", \
     "" using 3 title "slirp4netns" lc rgb "#ff7f0e", \
     "" using 4 title "pasta" lc rgb "#2ca02c", \
     "" using 5 title "veth" lc rgb "#7f7f7f"

set title "How many times better slirpns is (>1 = slirpns better)"
set ylabel "factor"
set logscale y
set xtics rotate by -35 nomirror font ",8"
plot outdir."/chart-ratio.dat" using 2:xtic(1) title "vs slirp4netns" lc rgb "#ff7f0e", \
     "" using 3 title "vs pasta" lc rgb "#2ca02c", \
     "" using 4 title "vs veth" lc rgb "#7f7f7f", \
     1 with lines lc rgb "black" dt 2 notitle

unset multiplot
