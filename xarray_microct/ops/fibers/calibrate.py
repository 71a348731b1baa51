"""The table's radius on the scan, calibrated on the radius estimate's measured sections.

Under 4 pixels of radius a thresholded mask's section is off by a few per cent, one
way or the other with the scan (:mod:`~xarray_microct.ops.fibers.mask`: the threshold
between a low fibers' level and a noisy surroundings' level, the blur that fills the
gaps between packed fibers, the blurred contour inside a convex edge): on
``benchmarks/fiber_table_radius.py`` (the true radius given, seeds 1–3) ``fiber_bed``
at 2–3 pixels −2.5 to +0.3 %, ``textured_fiber_bed`` at 2 pixels +2.0 to +6.5 %.
The fit of blurred disks that measures the fiber radius on a sample of the scan
(:func:`~xarray_microct.ops.fiber_scale.measure_fiber_bed`, which ``detect_fibers``
runs on fibers under 9 pixels whether the radius is given or not) measures the same
sections from the intensities, with the blur and the levels fitted, to about ±1.5 %
(20 rounds; ±2 % at 10).

:func:`calibrate_radii` pairs each of the fit's whole sections with the table's rows of
the same fiber on the slices averaged into its image (the section moved along the bed's
drift; within half a radius on at least half of those slices) and compares the means:
the table's radii are all moved by the same length, the whole difference of the means
(until 2026-12-01 only the part beyond a dead zone of 2 %, then 0.5 %, of the fit's
mean: see "Since" and "No dead zone" below). One length for all sections, so
the spread of the radii, each section's departure from the others, is the mask's: a
bed-wide shift, not a section measure (a measure that drew each small section towards
the bed's radius compressed a bed's spread: see :mod:`~xarray_microct.ops.fibers.mask`).
A length, not a factor: the mask's errors are displacements of the edge (a threshold off
the mid-level, the gaps between neighbours filled), the same for a section of 1.5 pixels
and one of 3.

A pair whose ratio of radii (table over fit) is more than ``SAME_SECTION`` (25 %) from
the pairs' median ratio is not one section (a section of 3 pixels split in two by a fit
seeded at 1.9: those pairs took a bed of 1.5 and 3.0 pixels from −1.97 to −6.0 %). About
the median, not about 1: the mask's bias moves every pair's ratio, and where it is
worst the guard must still pair (a sparse bed on a textured background, the table
+39.7 %, the fit +0.9 %, pair ratios about a median of 1.37: a guard about 1 kept 22 of
75 pairs and the calibration was not applied; about the median 62 pair and the table
is +2.3 %). On ``benchmarks/fiber_table_radius.py`` (below) the median's guard took
``textured_fiber_bed`` at 2 pixels (true radius given) from −0.0..+1.5 to −1.3..+1.3 %,
outside ±2 % 13 → 14 of 72 (``fiber_bed`` at 2 pixels, noise 0.25, 15°, estimated
radius −1.8 → −2.2 %), worst +3.4 → +3.2 %; the spread's slopes unchanged, its bimodal
bed's small class −2.7 / −1.7 → −0.4 / +1.0 %, large +2.1 / +2.3 → +3.2 / +3.6 %
(seeds 1 / 2), ``varying`` seed 2 smallest third +3.5 → +3.3 %. Not applied (and said so
in the record, with the sections fitted, found and paired and both means where there are
pairs) where there are no measured sections (fibers of 9 pixels and more with the
radius given: detected on bins, the scan not sampled; a scan whose sample could not be
fitted or measured; non-square pixels; a mask or
tubeness input: the detection records which), where fewer than ``MIN_PAIRS`` sections
pair, where under half of the fit's sections find their rows, or where the fit's mean
radius is more than ``AGREE`` (25 %) from the detection's radius: the fit, seeded at a
radius given half too small, finds the fibers' own, but the table detected at that
radius is not theirs (its spread is squeezed: slope 0.63), and a shift took it from −7.8
to +5.8 % (its smallest third +16 %). The table is the same whatever the chunking (the
sample is read from the shape, the rows are the chunk-exact table's); the shift is
computed from the table once it is whole, in the client (the table's rows are there
already), and it is recorded in the table's ``attrs["radius_calibration"]``.

Measured (seeds 1–3; ``benchmarks/fiber_table_radius.py --radii 2 3 --estimate``, 72
radii): outside ±2 % 31 → 13, worst +7.2 → +3.4 %; ``textured_fiber_bed`` at 2 pixels
+2.0..+6.5 → −0.0..+1.5 % (true radius given), at 3 pixels +0.4..+5.1 → +0.4..+3.2 %;
``fiber_bed`` unchanged but for one case (noise 0.25, 15°: −0.7 → −1.3 %), its
−2.5..+0.3 % within the tolerance of its fit. ``benchmarks/fiber_scale.py --phantom
both --radii 2 3 5``: ``det%`` the same from 5 pixels up (no fit there). The spread
(``benchmarks/fiber_radius_spread.py``, seeds 1–2): slopes unchanged (1.008 / 0.972
on ``fiber_bed`` of 7 ± 2 µm at 3.2 µm pixels, whose smallest third goes +1.8 / +5.5 →
+1.8 / +3.5 %; 1.07 / 1.06 on the bed of 1.5 and 3.0 pixels, −3.9 / +1.5 → −2.7 /
+2.1 % for seed 1). What is left: where the fit itself is off (a tilted bed's sections
read about 1.5 % low at 15°) the table follows it up to the tolerance; the tolerance
leaves up to 2 % where fit and table agree that far (``fiber_bed`` −2.5 %; then 0.5 %,
see "Since" below; since removed, see "No dead zone").

Until 2026-12-01 (history; the dead zone was then 0.5 %, see "Since" below, which
measured τ = 0 better than 2 % once the fit runs 20 rounds): the tolerance was a dead
zone of 2 % (the shift is the part of the difference beyond it, so a table off by more
stopped 2 % short of the fit, on the mask's side), on purpose: moving
the table's mean onto the fit's whenever they differ by more than the tolerance was
measured worse, the fit's own error being about as large as the 2 % left. With the
guard about the median, on ``benchmarks/fiber_table_radius.py`` ``textured_fiber_bed``
at 2 pixels, noise 0.05, seeds 1–3: +0.9 / −0.3 / +0.4 % with the dead zone, −1.1 /
−2.3 / −1.6 % onto the fit; ``benchmarks/fiber_radius_spread.py``'s bimodal bed
(seed 1 / 2) all +0.9 / +1.8 % with it, +2.7 / +3.7 % onto the fit; the reviewer's mixed
beds of 2–3 pixels (blur 1): textured −0.2 against −2.2 %, flat −0.9 against −2.9 %.
Only a bed of one radius on a flat background (2 pixels: +2.7 against +0.7 %) and a
sparse textured one (+2.3 against +0.2 %) were better onto the fit.

Since (2026-12-01, branch ``radius2``): the dead zone 2 → 0.5 %, with the sample's fit
run 20 rounds instead of 10 (``SAMPLE_FIT_ROUNDS`` in
:mod:`~xarray_microct.ops.fiber_scale.sample`). The 14 cases outside ±2 % of
``benchmarks/fiber_table_radius.py --radii 2 3 --seeds 1 2 3 --estimate`` were of two
kinds: (a) ``fiber_bed`` at 2–3 pixels, table −2.0 to −2.6 %, where the fit read within
2 % of it (nothing moved; the fit reads low there too, −0.1 to −2.1 %) or below it
(noise 0.25, 15°, seed 1 at the estimate: the fit −2.1 %, the table moved from −1.2 to
−2.2 %), and (b) ``textured_fiber_bed`` with the table +3.7 to +5.1 %, stopped 2 % short
of a fit at −0.1 to +1.0 % (+2.5, +3.2 %). The fit was not converged at 10 rounds: its
per-section radii compressed towards its start (slope of fitted on true radius 0.49–0.83
at 2 pixels), its mean depended on the radius it was seeded at (``textured_fiber_bed``
at 2 pixels, noise 0.15, 8°, seed 1: −1.3 % seeded at the true radius, −0.05 % at the
estimate), and it read low (fitted whole sections of the sample against their true
radii, seeded at the true radius, 36 cases at 2–3 pixels, seeds 1–3: mean −0.65 %, mean
absolute error 0.79 %, worst −2.37 %, 12 cases beyond ±1 %). At 20 rounds: mean −0.25 %,
mean absolute error 0.51 %, worst −1.47 %, 4 beyond ±1 %, slopes 0.81–1.02; at 40 rounds
−0.01 / 0.61 / +1.45 %, 9 beyond ±1 % (``textured_fiber_bed`` at 2 pixels drifts up:
+1.2 % at seed 1); starting the fit's blur at 0.35 radius instead of 0.5: −0.31 / 0.58 /
−2.13 %; each radius's step less the disks' mean step (the common part left to the joint
scale step): −0.68 / 0.86 / −2.52 %. With the fit within about ±1.5 %, a dead zone of τ
leaves the table within the fit's error plus τ. Measured on the same run (20 rounds; the
table before the shift, the pairs' means, the shift recomputed for each τ): cases
outside ±2 % of 72 for τ = 0 / 0.5 / 1 / 1.5 / 2 %: 2 / 1 / 5 / 13 / 21, worst −2.52 /
−2.02 / +2.19 / +2.71 / +3.22 %, mean absolute error 0.66 / 0.85 / 1.07 / 1.31 / 1.49 %
(at 10 rounds: 15 / 12 / 11 / 12 / 14 of 72). With τ = 0.5 % by rounds: 10 / 15 / 20 /
40 rounds 12 / 7 / 1 / 3 of 72 outside ±2 %, worst −3.7 / −3.1 / −2.0 / +2.4 % (τ = 0:
15 / 6 / 2 / 2): 20 is the best of those on this benchmark, but not a plateau — the fit
still creeps (see below), and the per-case figures move with the rounds by up to about 1
%. Before → after (10 rounds and 2 %, 20 rounds and 0.5 %): outside ±2 % 14 → 1 of 72,
worst +3.18 → −2.02 %, mean absolute error 1.29 → 0.85 %. What is left:
``textured_fiber_bed`` at 2 pixels, noise 0.25, 15°, seed 1 at the estimate (the table
+5.1 % before the shift, the fit −1.2 %: −2.02 %); ``fiber_bed``'s worst −1.9 % (its fit
−1.5 %). A reviewer's 13 beds the benchmark does not hold (32 × 96², seeds 4–6, 2–3.5
pixels, correlated noise, other blurs and packings): the table outside ±2 % 4 → 1, mean
absolute error 1.53 → 0.94 % without that one; the one is ``fiber_bed`` at 2 pixels with
a blur of 1 pixel, where the calibration makes the table worse before and after this
change (about −3 % before the shift, −8.2 / −7.4 % after it; the pairs' table mean +2.4 %
against −3.1 % on the matched sections: the pairing takes merged sections there). The
estimate on those beds moved the other way: outside ±2 % 1 → 2 of 12, mean absolute
error 0.75 → 0.97 %, ``textured_fiber_bed`` at 2–2.5 pixels +0.6 → +2.0 % and +0.7 →
+1.4 % (correlated noise): the 20 rounds are a cap tuned on the benchmark, not
convergence (a stopping rule, or a step along the blur/radius valley, is the method).
Checked with ``benchmarks/fiber_table_radius.py`` itself on the new tree (the same 1 of
72 and −2.02 %). ``benchmarks/fiber_radius_spread.py`` (seeds 1 / 2, both trees the same
hour): slopes unchanged (1.008 / 0.972, bimodal 1.068 / 1.062); ``varying`` all +2.09 /
+2.03 → +1.38 / +0.25 %, smallest third +1.76 / +3.29 → +0.80 / +0.82 %, largest +1.65 /
+0.78 → +1.09 / −0.59 %; the bimodal bed all +0.91 / +1.84 → −0.82 / −0.62 %, its large
class +3.21 / +3.60 → +2.16 / +2.14 %, its small class −0.38 / +1.02 → −2.49 / −1.90 %
(one length for both: the fit's pairs' mean now lies lower, and a length weighs twice on
the small class); ``half`` not calibrated, as before (−7.8 %). The test's mixed beds of
2, 2.5 and 3 pixels (``tests/test_fiber_calibrate.py``, seeds 1 / 2): all −0.21 / +1.45
→ +0.68 / +0.67 %, the sizes −1.0..+1.7 → −0.3..+2.1 %. A radius given half too small or
1.5 times too large: not calibrated, as before (the same tables).
``benchmarks/fiber_scale.py --phantom both --radii 2 3`` (seed 1): object F1 within
±0.004 (``textured_fiber_bed`` 2 pixels, noise 0.15: 0.983 → 0.987), the estimate's
worst 2.3 → 1.0 %; at 5 pixels identical (no fit there). Not solved: on ``fiber_bed``
with a blur of 1 pixel instead of 0.7 (2 pixels, a matrix or the patchwork, noise
0.05–0.15, seeds 1–2) the estimate reads −4.0 to −8.6 % at 10 rounds, −1.6 to −6.3 % at
20, −0.8 to −3.8 % at 80: the fit creeps along the valley of larger disks under less
blur by a few tenths of a per cent a round, and a faster way along it (not more rounds:
40 rounds took ``benchmarks/fiber_table_radius.py`` to 3 of 72 outside ±2 %,
``textured_fiber_bed`` drifting up) is what is left to find (tried at 20 rounds, those 8
cases: the joint step applied and the levels profiled again before each radius's own
step, −0.1 to −5.8 %; the outlier cut renewed every round instead of kept from the first
3, −0.3 to −5.7 %; neither used); at a blur of 1.5 it reads +47 to +53 % (merged
fibers), as before. Measured since (branch ``fitstop``, ``benchmarks/fit_rounds.py``; see
:mod:`~xarray_microct.ops.fiber_scale.disks`'s "Whether the fit converges at all"): at 3 pixels
the fit is settled by 20 rounds; at 2 most images settle by 80–100 rounds and some never
do, and the limit reads 0.5–0.7 % higher than 20 rounds on the textured bed and on beds
whose fibers end inside, so more rounds, or a faster way to the same limit, would trade
those beds (worse) for beds under a blur of 1 pixel or more (better, as above) until that
bias is removed; no stopping rule on the step against its noise works (the step is small
while the fit still creeps).

From 4 pixels up (2026-12-01, branch ``tab5``): no fit of blurred disks runs there, so
the table was the mask's alone, and it read low: ``benchmarks/fiber_table_radius.py
--radii 4 5 6 8 --seeds 1 2 3 --estimate`` 11 of 72 outside ±2 % at the estimate (9 at
the true radius), worst −2.93 %, all low (``fiber_bed`` 4–5 pixels −2.1 to −2.3 %,
``textured_fiber_bed`` 5–6 pixels −2.2 to −2.9 %, at noise 0.05–0.15). Where it comes
from (a diagnostic at the truth, tilt 0, seed 1, the middle slice smoothed along z as
the detection does; the mask's area over the inner region against the true occupancy, as
a radius): thresholded at the true mid-level (true fiber and local background levels)
``textured_fiber_bed`` at 5 pixels reads −1.0 to −1.1 % whatever the noise (the
mid-level contour of a blurred convex edge lies inside it, about σ²/2R: a blur of 1
pixel), ``fiber_bed`` −0.0 to −0.2 % (blur 0.7, its gaps' tails offset it); the excess
intensity over the true background (the intensity measure with the true levels) −0.0 to
−0.2 %. The mask's surroundings' level (the opening of the medians of three) lies above
the true background by +4.6 / +4.6 / +3.4 / +0.9 % of the contrast at noise 0 / 0.05 /
0.15 / 0.25 (``textured_fiber_bed``, 5 pixels): at low noise the opening reads the
blur-filled gaps between packed fibers (the plain opening +3.5 % at noise 0, and the
median fills narrow gaps, +1.1 % more), at high noise the minimum of the noise pulls it
down (the plain opening −6.8 / −16.6 % at 0.15 / 0.25); the fibers' level from the
histogram lies 4.9–8.9 % of the contrast under the plateau (wider, partly cancelling);
with those levels the mask reads −2.2 / −2.2 / −1.5 / −0.5 % (plain opening −2.1 / −1.5
/ +0.0 / +1.5 %; ``fiber_bed`` −1.9 / −1.7 / −1.2 / −1.0 %, where Otsu's floor, above
the mid-level in the pores, costs about 1.4 points: the true background with the
histogram's fibers' level, under Otsu's floor, −1.7 / −1.6 % against −0.2 % at the true
mid-level). So no estimate of the surroundings' level alone brings the threshold within
2 %: with the true one the contour's −1 % is left, and an opening without the noise's
bias (its value at noise 0) still reads the gaps (−2.1 % at 5 pixels). What does not
depend on a threshold is the intensity measure the radius estimate's rounds already make
on the sample (:func:`~xarray_microct.ops.fiber_scale.refine_disk_radii` of each whole,
round section of the runs' 4-slice means: its excess intensity over a local background
taken beyond every fiber's margin, over the fibers' plateau), which is unbiased where
its levels are. Those sections (:class:`~xarray_microct.ops.fiber_scale.FittedSections`,
each 4-slice mean its own image) now calibrate the table from 4 pixels up as the fit
does under 4 (the same pairing and guards; the 0.5 % dead zone then, since removed), at
no cost (the sample is
measured anyway; the fit of blurred disks from 4 to 8 pixels instead would cost 0.8–1.0
CPU s more a detection on these beds (``measure_fiber_bed`` at 8 pixels 0.5 → 1.6 s),
and it read ``fiber_bed`` −1.9 to −2.0 % at 5 and 8 pixels: not used). Measured, the
same benchmark and seeds (before → after, at the estimate): outside ±2 % 11 → 0 of 72
(true radius given 9 → 0), worst −2.93 → −1.33 %, mean absolute error 0.94 → 0.50 %; per
phantom and radius, the range ``fiber_bed`` 4: −2.29..+0.17 → −0.73..+0.17 %, 5:
−2.09..−0.04 → −1.23..−0.04, 6: −0.78..+0.00 → −0.64..+0.04, 8: −1.17..−0.04 →
−0.87..−0.04; ``textured_fiber_bed`` 4: −1.00..+0.33 → −0.80..+0.33, 5: −2.93..+0.18 →
−1.17..+0.18, 6: −2.59..+0.04 → −1.33..+0.04, 8: −1.56..+0.14 → −1.22..+0.08; object F1
the same in every case (the shift moves radii only). What is left is mostly low, −0.5 to
−1.3 %: the intensity measure reads about 0.6–0.8 % under the truth on these beds (its
background, taken 2 pixels beyond the fibers, holds part of their blur tails) and the
0.5 % dead zone stops the table short of it. Where the table already lay within 0.5 % of
the measure (most of ``fiber_bed`` at 6–8 pixels) nothing moved. Beds of 9 pixels and
more are detected on bins: not calibrated, as before (since: see "On bins" below).

On bins (2026-12-01, branch ``bins9``): fibers of 9 pixels and more are detected on the
scan binned ``b × b`` in y and x (:func:`~xarray_microct.ops.fibers.grid.working_factor`),
and the table was not calibrated there. With the radius estimated (the default) the
estimate has measured its sample's whole sections on the scan (the rounds' intensity
measure, as from 4 to 8 pixels), so the table on bins is now calibrated on them the
same way: the sections are in the scan's pixels and the table's rows are physical
whatever the grid (the pairing goes through the scan's spacing and origin), no
constant changed, the scan not read again. With the radius given the plan of large
fibers stays lazy (no sample is read) and the table is not calibrated, as before (the
record says so). ``benchmarks/fiber_table_radius.py --radii 9 12 16 20 --seeds 1 2 3``,
main's detection at the estimate (the same table as ``radius=None`` there) against
``--default`` on this tree: none of 71 outside ±2 % before or after (the 72nd, the
textured bed at 16 pixels, noise 0.25, 15°, seed 1, has no estimate: the radius
estimate raises ``NoFibersError``, 15 % of the sections found again, and the default
detection gives an empty table, before and after), worst −1.68 → −0.92 %, mean absolute
error 0.54 → 0.41 %; per phantom and radius ``fiber_bed`` 9: −0.64..+0.26 →
−0.64..+0.26 %, 12: −0.90..+0.09 → −0.64..+0.33, 16: −1.12..−0.32 → −0.78..−0.24, 20:
−0.51..+0.29 → −0.51..+0.29; ``textured_fiber_bed`` 9: −0.92..+0.78 → −0.92..+0.79, 12:
−1.68..+0.83 → −0.88..+0.83, 16: −1.05..−0.26 → −0.58..−0.26, 20: −0.53..+0.86 →
−0.52..+0.86; 34 of the 71 moved, one away from the truth (``fiber_bed`` 12 pixels,
noise 0.25, seed 3: −0.11 → +0.33 %); object F1 the same in every case. The test's
blurred disks of 10 and 12 pixels (noise 0.05–0.15, seeds 1–2): 4 of 12 beds moved,
+0.92 → +0.68, +0.88 → +0.32, +0.81 → +0.55, +1.12 → +1.00 %. A radius given 0.6, 1 or
1.6 times the truth (both phantoms, 12 and 16 pixels): the same tables as before. The
pairing on a whole scan's table (128 × 2560², 1.5 M rows) takes only the rows of the
sampled slices within reach of the sample's tile: 0.10–0.28 s in the client (the
full search took 0.53–0.80 s; the same pairs on the test's beds). From 2 to 8 pixels
nothing changed (``--radii 3 6 --seeds 1 --estimate``: the same table radii and F1
before and after). The one estimate that failed: its first round, seeded at half the
coarse scale (7.3 pixels for fibers of 15.8), split the fibers and measured 7.9 pixels,
within ``SETTLED`` (10 %) of its seed, so the rounds stopped there; the split sections
are not found again 4 slices on (4 of 27). Of 222 estimates (seeds 1–6, the three
conditions; ``fiber_bed`` at 9, 10, 12, 14, 16, 18 and 20 pixels, ``textured_fiber_bed``
at 9–16 and at 18 with noise 0.05) it is the only one outside ±2 % (the others within
±1.7 %). Since (branch ``est16``) a first round that settles is checked against a round
seeded at the coarse scale, kept where its sections are found again more often (the
module docstring of :mod:`~xarray_microct.ops.fiber_scale.sample`): that estimate is −0.2 %,
and a second one split the same way with just enough pieces found again to pass
(``textured_fiber_bed`` at 20 pixels, noise 0.25, 15°, seed 6: −54.7 %, now −0.7 %).
The default detection (``benchmarks/fiber_table_radius.py --phantom other --radii 16 20
--seeds 1 6 --grid --noise 0.25 --tilts 15 --default``): 16 pixels, seed 1, F1 0.000
(empty table) → 1.000, table radius −0.23 %; 20 pixels, seed 6, F1 0.000 → 1.000,
+0.03 %; the two neighbours (16 pixels seed 6, 20 pixels seed 1) the same tables.

No dead zone (2026-12-01, branch ``rad2``; issue 13's sweep at the default parameters,
``detect_fibers(volume)``, at 2 pixels ``fiber_bed`` 0.05 / 8°, 0.05 / 15°, 0.15 / 15°
−2.1 to −2.5 % and ``textured_fiber_bed`` +2.0 to +3.5 % at four pairs of noise and
tilt). Each stage against the phantom's truth (``benchmarks/table_radius_stages.py``:
``benchmarks/fiber_table_radius.py``'s cases and measure; the 2-pixel grid of 3 noises ×
3 tilts, both phantoms, seeds 1–3 and 4–6, 54 cases each; main's tree): (1) the fit's
sections against their own true radii (each fitted whole section matched to the true
section on its image's slices, the tilt's ellipse removed with the true ``cos θ``):
``fiber_bed`` −1.8..+0.3 % (mean −0.75 %) and −2.5..+0.1 % (−1.03 %), lower with the
tilt (means at 0 / 8 / 15°: −0.54 / −0.58 / −1.12 % and −0.55 / −0.97 / −1.59 %);
``textured_fiber_bed`` −1.4..+4.1 % (+0.61 %) and −1.7..+5.7 % (+1.49 %), highest where
the fit was seeded highest (the rounds' radius +21 % over the true one at 15°, seed 6:
the fit +5.7 %, its fiber level 0.93 and blur 0.93 for 1.0 and 1.0; at 0°, seeded +13 %:
+0.6 %); at 3 pixels −1.5..+0.1 % and −0.4..+1.3 %. The tilt's part on ``fiber_bed`` is
not the aligned means': the radius estimate (the same fit) at noise 0.05, seeds 1–6,
reads −0.45 / −1.20 % at 0 / 15° on the aligned means and −0.25 / −0.85 % on the runs'
4-slice means instead, so the fit itself reads a tilted bed's sections (ellipses, their
blur stretched with them) about 0.6 % under their area's disk, as recorded in
:mod:`~xarray_microct.ops.fiber_scale.disks`. (2) The tilt factor ``(1 + slope²)^-1/4`` from
the bed's measured slope against the true ``√cos θ``: within −0.16..+0.25 %, not a
cause. (3) The pairs against all the table's matched rows (the benchmark's measure): the
table over the pairs reads 0.5–0.6 % above its mean over all rows on average (all rows
less pairs: ``fiber_bed`` −1.4..+0.2 %, ``textured_fiber_bed`` −2.4..+0.8 %): on
``fiber_bed`` 2–12 % of the matched rows are in no pair and read −3 to −8 % (among them
the rows whose pairs the guard leaves out, split sections at −13 to −22 %), so a shift
that puts the pairs' mean on the fit's leaves the whole table that much low. (4) The
dead zone: the shift stopped 0.5 % of the fit's mean short of it, on the mask's side. On
``fiber_bed`` the three add up in the same direction (the mask −2 to −3 %, the fit −1 to
−2 % at 15°: the table at the fit's error, less 0.5 %, less the unpaired rows'); on
``textured_fiber_bed`` the mask reads +0.2 to +9.5 % on the pairs and the table ends at
the fit's error plus 0.5 %. So the cause is the fit's own error on the sampled sections
(the 20-round fit is not converged: it keeps part of its start, see
:mod:`~xarray_microct.ops.fiber_scale.disks`'s "Whether the fit converges at all"), which the
dead zone could only add to: it now moves the table onto the fit's mean whole (the dead
zone was kept when the fit read within about 2 % at 10 rounds; on the cases of "Since" τ
= 0 was already measured better by mean absolute error, 0.66 against 0.85 %). Before →
after (the same cases; the table's shift recomputed from the record's means, which the
after tree's own run confirms on seeds 1–3): 2 pixels seeds 1–3 outside ±2 % 11 → 6 of
54, mean absolute error 1.25 → 1.09 %; seeds 4–6 (held out) 15 → 11, 1.66 → 1.41 %; 3
pixels seeds 1–3 0 → 0, 0.72 → 0.44 %, worst +1.75 → +1.25 %, seeds 4–6 2 → 0
(``textured_fiber_bed`` at noise 0.25, 8 and 15°, seed 5: +2.45 / +2.48 → +2.00 / +1.99
%), 0.82 → 0.50 %; 4 and 5 pixels (seed 4, five pairs of noise and tilt, 20 cases) 0 →
0, 0.41 → 0.27 %, worst −0.91 → +0.89 %; 12 pixels on bins (seed 4, three pairs, 6
cases) 0 → 0, 0.35 → 0.24 %, worst −0.74 → −0.41 %; object F1 the same in every case
(the shift moves radii only). The tests' beds (``tests/test_fiber_calibrate.py``, seeds
1 / 2): the mixed beds of 2, 2.5 and 3 pixels +0.68 / +0.67 → +0.18 / +0.16 %; the disks
of 5 and 6 pixels −0.11 / +0.05 → +0.39 / +0.55 % (the intensity measure's own error
there, which the table now takes whole). What is left at 2 pixels is the fit's error
itself: ``fiber_bed`` seed 5 at 8–15° and seed 3 at 15° (the fit −1.2 to −2.5 %, the
table −2.0 to −3.0 %; one case moved away, noise 0.15, 15°, seed 5: −2.45 → −2.95 %, the
pairs' table above the fit's there) and ``textured_fiber_bed`` where the fit reads +1.9
to +5.7 % (the table +2.0 to +5.2 %). Where the fit is far off the table now follows it
0.5 % further: ``fiber_bed`` under a blur of 1 pixel (2 pixels, noise 0.05 / 0° and 0.15
/ 8°, seeds 4–5; the fit −2.0 to −4.9 %) −3.5 / −3.2 / −7.4 / −4.6 → −4.0 / −3.7 / −7.8
/ −5.1 %, as the "Since" section found before: that fit's error (its 20 rounds under a
blur of a pixel) is the case to solve there. Tried, not used: the sections for the
calibration fitted again from seeds at the fit's own radius (20 more rounds), so that
the start no longer carries the rounds' bias: ``fiber_bed`` outside ±2 % 3 → 0 of 27
(seeds 1–3, with no dead zone), but ``textured_fiber_bed`` at noise 0.05 then read
−3.5..+2.0 % (mean −1.5 %; the table −4.7..+1.1 %) where seeded high it read −1.4..+2.5
% (mean +0.7 %), 8 → 12 of the 25 cases measured outside: the fit depends on its start
either way, and another start is not its limit. Nor the guard about the pairs' median
kept one-sided (the pairs whose table radius lies far below the fit's kept, the split
rows then weighing in the shift) or dropped: 11 / 11 against 11 of the 54 held-out cases
outside ±2 % (seeds 4–6, no dead zone; mean absolute error 1.42 / 1.37 against 1.41 %).

Issue 13's six misses at 2 pixels (2026-12-02, branch ``fit13``; no change made):
``benchmarks/table_radius_stages.py`` puts every one on the fit's own error on the
sections it measured (``fiber_bed`` noise 0.15, 15°, seed 3: the fit −1.82 %, the table
−2.04 %; ``textured_fiber_bed`` noise 0.15, 0°: the fit +1.9 to +4.1 %, the table +2.0
to +3.0 %; noise 0.05, 15°: +2.5 % and −1.4 %, the latter with the rows in no pair at
−1.2 %), none on the mask's table or the tilt factor (within −0.01..+0.17 % of the true
``√cos θ``). The tilted ``fiber_bed``'s low reading was that phantom's overlap of touching
fibers, not the ellipse (a disk fitted to a blurred ellipse is unbiased to first order;
``benchmarks/tilt_fit_bias.py``; the phantom since places its fibers without overlap
across the fibers, and that case reads −0.75 %), and the noise measured along z given to the
background's weight helped the textured bed and lowered the others (the 54 cases' table
mean absolute error 1.05 → 1.16 %): both recorded in
:mod:`~xarray_microct.ops.fiber_scale.disks` ("Issue 13's misses at 2 voxels").

A bed of two fiber sizes (2026-12-02, branch ``mix13``; no change made). An independent
phantom (straight cylinders of 3 and 5 pixels, half of each, blur 0.7, noise 0.15, 8°,
32 × 160², the default detection) reads −4.2 / −2.9 % (seeds 1 / 2; the small class −4.8
/ −3.3 %, the large −2.5 / −1.7 %), where the table before the shift is within ±0.5 %
on both: the fit, seeded at the estimate (3.4 pixels), measures the 3-pixel sections
(+0.6 %) but takes the 5-pixel ones only to 4.6 (−7.9 %: 20 rounds from 3.4 do not reach
5), and the mean over both moves every row by −0.13 pixel. Tried: (a) the shift taken on
the pairs whose fitted radius lies within ``AGREE`` of the seed: that bed −1.2 / −1.4 %
(both classes within ±1.7 %), one-size beds within 0.06 points, but
``benchmarks/fiber_radius_spread.py``'s bimodal bed (1.5 and 3.0 pixels, the radius given
2.37) −0.6 / −0.2 → +3.9 / +4.0 % (a window on the fit's own value selects the sections
it reads low); (b) the median of the pairs' differences: that bed −0.25 / −0.19 % (both
classes within ±0.4 %), the 2 + 3-pixel bed −0.46 → −0.21 %, but the spread benchmark's
bimodal bed +2.4 / +2.1 % (its large class +4.1 %: the median takes the 1.5-pixel class,
where the fit reads high) and ``varying`` 0.3–0.7 points lower. Each bed of two sizes
wants the other rule: what is missing is a fit that converges on sections far from its
seed (seeded per section at the mask's own radius), not a rule for the shift.

Done (2026-12-02, branch ``sizes13``): the fit itself, the shift rule as it was. Why the
5-pixel sections stopped short (measured on the sample's image of
``benchmarks/fiber_two_sizes.py``'s bed, written for it: cylinders of 3 and 5 pixels
drawn half and half, anti-aliased, blur 0.7, noise 0.15, 8°, 32 × 160²; seeds 1 / 2, the
rounds' radius 3.01; recorded in :mod:`~xarray_microct.ops.fiber_scale.disks`, "A bed of two
fiber sizes"): the Laplacian's seeds at half that radius fall two or three to a 5-pixel
section (32 of 38 and 29 of 31 inner ones), each piece fitted as a disk (100 rounds:
−7.0 / −5.4 %); and from one seed at the bed's radius some sections stay there (from
the true centres at 3.01, 1 of 38 and 7 of 30 end at 3.1–4.6, the others at 4.9–5.1:
the disk's cell takes the ring it misses for its own background). The fit's disks that
split a section (one centre inside another disk, which no two fibers' sections do) are
now fitted again from one seed each, started at the pieces' extent
(:func:`~xarray_microct.ops.fiber_scale.sample._merged_splits`), and such sections stay in the
sample's radius whatever the median's ±50 % window, which left the 5-pixel sections
out: the estimate, 3.23 / 3.18 before, was 2.98 / 2.99 without this and is 3.37 / 3.32
with it (the truth's mean section 3.47 / 3.43; on the 2 + 4-pixel bed 2.13 / 2.10 →
2.29 / 2.26, the truth's 2.35 / 2.35), and the detection at 2.0 on that bed (seed 1)
split 71 % of the 4-pixel sections in two or three rows against 31 % at 2.13 and 1 %
at 2.35: its 4-pixel class then read −7.5 / −6.5 / −7.0 %. Before → after
(``benchmarks/fiber_two_sizes.py``, the default detection, per cent, seeds 1 / 2 / 3,
seed 3 held out; small class, large class, all):

* 3 + 5 pixels, 8°: −3.76 / −2.11 / −3.40 → −0.12 / −0.28 / −0.30; −2.18 / −1.03 /
  −1.98 → −0.03 / +0.07 / −0.11; −3.25 / −1.80 / −2.95 → −0.09 / −0.18 / −0.24 (the
  sample's fit on its own sections, 5 pixels: −9.7 / −10.9 / −9.8 → −0.6 / +0.5 / +0.3
  %; 3 pixels +1.0 / +0.7 / +0.8 → +0.4 / +0.3 / +0.3 %); the shift −0.07 / −0.03 /
  −0.07 → +0.03 / +0.02 / +0.03 pixel;
* 3 + 5 pixels, 0°: −3.17 / −2.03 / −1.99 → −0.13 / +0.04 / −0.24; −2.11 / −1.61 /
  −1.38 → −0.29 / −0.39 / −0.37; −2.82 / −1.91 / −1.80 → −0.19 / −0.08 / −0.28;
* 2 + 4 pixels, 8°: −0.41 / +0.16 / +0.32 → +0.38 / +0.36 / +0.39; −4.98 / −4.55 /
  −5.84 → −1.83 / −1.84 / −1.79; −1.64 / −1.13 / −1.37 → −0.26 / −0.29 / −0.28 (the
  table before the shift −2.8 to −3.3 % and −3.4 to −3.7 %: the mask's own error,
  which one shift cannot share out; the fit on its sections +0.5 / +0.4 / +0.1 % and
  −0.2 / −0.5 / −0.7 %, was +1.5 / +1.3 / +1.8 and −9.8 / −8.7 / −9.4 %);
* 3 + 5 pixels, other conditions (seeds 1 / 2; small, large, all): noise 0.25 and 15°
  −4.37 / −2.55 → −0.23 / −0.32, −2.63 / −1.06 → −0.14 / +0.27, −3.77 / −2.11 → −0.20 /
  −0.15; a blur of 1 pixel −3.44 / −3.60 → −0.11 / −0.31, −1.81 / −1.77 → +0.20 /
  +0.24, −2.91 / −3.07 → −0.01 / −0.15 (there the fit still reads its 5-pixel sections
  −4.4 / −2.7 %, was −8.0 / −5.4 %; the pairs' guard leaves the worst out);
* 3 + 4 pixels (seeds 1 / 2): no section split, the same within 0.02 points (small
  −0.16 / −0.35, large −0.02 / −0.08 %);
* 2 + 5 pixels (seeds 1 / 2): small +3.69 / +2.32 → +0.22 / −0.25 %, large −21.4 /
  −21.8 → −17.8 / −23.0 %, all +3.64 / +2.30 → +0.14 / −0.28 %; the fit on its sections
  +2.5 / +2.0 → +0.7 / +0.5 % and −11.1 / −14.2 → −0.1 / −0.7 %. The large class is the
  detection's: at about 2.3 pixels it cuts sections of 5 (over 1.75 times its radius,
  the detection's range) into pieces, before and after.

One-size beds, where no fit splits a section, are fitted once and read as before. The
estimate (``benchmarks/radius_estimate.py --radii 2 3 --seeds 1 2 3 --only sweep``, 54
cases): 53 the same, one −0.72 → −0.88 % (``fiber_bed`` 3 pixels, noise 0.05, seed 2,
the patchwork); ``--phantom other`` all 18 the same; ``--correlated 1`` 50 of 54 the
same, four at 3 pixels 0.05–0.11 points lower (−0.36 → −0.47 % the most); ``--only ends
--ends 0.2`` 11 of 12 the same, one −0.32 → −0.37 %. The table:
``benchmarks/fiber_table_radius.py --radii 2 3 --seeds 1 2 --default``
(24 cases, the true radius given and the default): 23 the same to the printed digit; in
one the first fit split a section (``fiber_bed`` 3 pixels, noise 0.05, 0°, seed 2):
−1.17 → −0.75 % given, −0.99 → −0.56 % default; seed 3 (held out, 12 cases): all the
same. ``--phantom other --grid --radii 2 --default --seeds 1`` (9 cases): all the
same. ``benchmarks/fiber_radius_spread.py``
(seeds 1 / 2): ``varying`` +0.41 / +0.25 → +0.58 / +0.53 % (small third −0.32 / −1.23 →
−0.09 / −0.85, large third +0.36 / +0.07 → +0.49 / +0.29, slope 1.004 / 1.005 the
same), ``bimodal`` −0.59 / −0.19 → −0.45 / −0.42 % (1.5 pixels −2.21 / −1.39 → −2.04 /
−1.66, 3.0 pixels +2.30 / +2.39 → +2.38 / +2.26), ``half`` the same. The cost: only
where a fit splits a section (one more fit of the image): ``measure_fiber_bed`` CPU s,
this bed 1.75–2.08 → 1.89–2.09, 2-pixel beds the same (0.73–0.98 → 0.72–0.98 on
``fiber_bed``, 0.52–0.69 → 0.59–0.66 on the textured bed; 6 runs each, loaded machine).
Tried, not used: seeds from a scale-normalised Laplacian (maxima over position and over
sizes from 1.3 to 2.5 bed radii replacing the seeds inside them): that bed's fit +0.5 /
+0.1 % at 5 pixels, +0.4 / +0.4 % at 3, but on one-size beds 0–8 such maxima per
image in 21 of the 24 cases at 2–3 pixels, most of them two or three touching fibers
(the blur favours the larger scale), which it would have merged.

A sample that ends along z, air beyond (2026-12-02): the detection reads the fibers'
last slices before the air small (fibers of 5.5 pixels whose last slice is 15 of 32:
5.49, 5.34, 5.02, 3.71 on slices 12-15), and the sections the bed measured there, right
(5.49), paired with those rows moved the whole table up (+0.14 pixel: +2.9 % on the
fibers' other slices). The bed's sections of images within a radius of a slice where
the sample ends are now left out
(:func:`~xarray_microct.ops.fiber_scale.measure_fiber_bed`): +2.9 / +2.8 → −0.3 / −0.5
% (two seeds); fibers of 3.5 pixels ending at slice 24 of 48 (the fit's sections): the
calibration was refused (288 of 724 sections paired), now applied (288 of 288), the
slices more than 10 before the end +1.95 → +1.61 %; the red team's fibers of 6 ending
at slice 24 of 48: the slices more
than 6 before the end +3.4 → −0.2 %, the 6 before it −4.4 → −8.0 %, all rows +1.5 →
−2.1 %. Scans without such an end are the same (no section left out: air beside the
sample holds every slice of a run nearly alike, each slice judged against its own run's
— across the runs, a surface inclined along z, a slope of 0.15 beside air, had flagged
whole runs and dropped every fitted section; the red team's fibers beside air, in an air cylinder,
ending at slice 32 of 48 and without air: the same before and after). Not corrected:
the detection's own end, the last slices before the air read small (a limit of the
tubeness along z).

Issue 13's textured bed at 2 pixels on 64² × 32 (2026-12-02, branch ``radius22``; no
change made). The default detection (``benchmarks/fiber_table_radius.py --phantom other
--radii 2 --grid --default``) is outside ±2 % in 6 of 27 cases at seeds 1–3 and 10 of 27
at seeds 4–6 (held out; up to +5.2 %). Per case (the unshifted table and the
calibration's input kept, the fit's whole sections matched to their own true sections),
the table after the shift is the fit's error on its paired sections plus what the rows in
no pair add: the paired rows read about 0.5 % (−0.5 to +1.5 %) above all the matched rows
(the 9–25 % in no pair, splits among them, read lower), so that term is −0.7 ± 0.5 % (its
standard deviation over cases) on every field, and the rest is the fit. The fit's error
on its own sections, by field (``textured_fiber_bed`` at 2 pixels, 32 slices, 0 / 8 /
15°, seeds 1–6, 18 cases each; sections fitted a case; mean and standard deviation over
cases, per cent):

====== ======== =============== ===============
field  sections noise 0.05      noise 0.25
====== ======== =============== ===============
64²    105–120  +0.82 ± 1.84    +1.27 ± 2.22
96²    264–286  +0.94 ± 1.25    +2.03 ± 1.26
128²   502–550  +1.14 ± 0.89    +1.83 ± 1.38
====== ======== =============== ===============

The spread falls as one over the square root of the sections (1.84 × √(105/N): 1.16 and
0.84 predicted at 264 and 502), and it is the fit's common part, not its sections'
scatter: a section reads within 3–6 % of its own truth, 0.3–0.6 % for the mean of 105,
against 1.8–2.2 % between cases. The common part is the image's fiber level: against the
fitted level (one per image) the error's slope is −60 to −76 % of radius per unit of
level, and at the true level (1.0) the regression reads −0.6 / −1.2 % (noise 0.05 /
0.25) with a residual spread of 1.07 % on 64² (0.43–0.99 % on 128²). The level reads low
whatever the field (0.979 / 0.976 / 0.973 at noise 0.05, 0.963 / 0.955 / 0.957 at 0.25,
on 64² / 96² / 128²), with the blur (0.98 and 0.93 for 1.0): the fit's bias, which
grows with the noise of the image it fits (the same 64² slices averaged in one image of
32, two of 16 or four of 8: +1.27 / +2.82 / +4.51 % at noise 0.25, +0.82 / +0.95 / +1.70
% at 0.05). The table (seeds 1–6 on 64², 1–6 at noise 0.05 and 0.25 × 0 / 15° on 96²
and 128², 1–4 at noise 0.25 on 256²): outside ±2 % 16 of 54 on 64², 5 of 24 on 96², 4
of 24 on 128², 0 of 8 on 256² (+1.06 ± 0.60 %, the fit +1.84 ± 0.87 % on about 700
sections). So a 64² × 32 field does not hold enough sections for ±2 % with this fit: its
~110 whole sections (the scan's every fiber, the whole scan sampled and averaged in one
image) leave about ±2 % of spread by themselves, and ±1 % needs about 350 (noise 0.05)
to 520 (noise 0.25) sections, from the spreads above; from 96² up the noise's bias (+1
to +2 % at noise 0.25) is what is left. More of the same fit does not help: the fits of
several images averaged cut the spread only as the noise's bias grows (above); a linear
extrapolation to no noise (one image and two: mean +0.7 / −0.3 % at noise 0.05 / 0.25,
spread 3.0 / 3.7 %; one, two and four: +0.4 / +0.4 %, 2.0 / 2.4 %) removes the bias and
widens the spread; and more slices of the same fibers are not more sections: the fit on
64² × 128 slices (its sections; noise 0.25, 0 and 15°, seeds 1–6) reads −0.5 to +2.1 %
where the sample is one image and +4.6 to +6.2 % where its runs are fitted apart
(8-slice images: the sections' own drifts spread too far over the runs' span), mean +1.8
%; sampled over 16 runs instead of 4, −2.5 to +2.7 % as one 128-slice image (the spread
of one image of 32) and +3.4 to +5.1 % apart, mean +2.3 %. What is missing is a fiber
level the fit does not trade with the radius under noise (the level of one image's ~100
sections of 2 pixels under a blur of 1, whose cores never reach it), or that bias
removed, before more sections can help. Part of the 64² spread is the start, not the
sections: the fit is seeded at the rounds' radius, 13–16 % above the truth there
(standard deviation 2.2 points between cases), and after 20 rounds it still carries it
(the error's slope on the seed 0.5 at noise 0.05, −0.15 to 0.4 elsewhere); the same 64²
fits seeded at 1.95 pixels (about the true mean) read −2.08 ± 0.64 % at noise 0.05 and
+1.14 ± 1.50 % at 0.25 (level 1.043 and 0.978), so from below the low-noise spread is a
third of the one from above, but the mean lies 2 % under the truth (the limit is
approached from either side, as "Since" and "Whether the fit converges at all" found);
the mean of the two fits, per case, −0.63 ± 0.86 % and +1.20 ± 1.69 %, which depends on
where the second start is put (a constant of the bed, not used). Nor is it the 20
rounds' cap: at 100 rounds the same 64² fits read +1.50 ± 1.59 % and +2.93 ± 2.67 %
(level 0.962 and 0.943): nearer its limit the fit reads higher, its level lower, and
spreads as much.

Tried and withdrawn (2026-12-03): the pairs left out by the guard. At 2 pixels the
mask's error is not one length: a fiber packed among others reads large (the blur fills
the gaps), one apart from the others small (the contour of a blurred convex edge lies
inside it), by 20–30 % on ``textured_fiber_bed``, so those fibers' pairs lie beyond 25 %
of the median ratio. On the 64² bed at noise 0.05, 0°, seed 2, 8 of the 10 pairs left
out were fibers 4.5–5 pixels from the nearest other, whose fitted radius lay within 4 %
of the truth and whose rows read 1.1–1.6 pixels for 1.6–1.9; the shift on the other 101
lay 1.7 % of the radius under the mean over all 111, and the table read −2.8 %. Pairs
told apart by where they lie instead (a second row within the section's disk, or a
second section of its image within the detection's radius) with the ratio's band widened
to 50 %: on ``benchmarks/fiber_table_radius.py``'s textured 2-pixel bed with the defaults
(27 cases) seeds 1–3 outside ±2 % 4 → 2, mean absolute error 1.06 → 1.02 %, seeds 4–6
4 → 4, 1.16 → 1.00 %, the mean −0.41 → +0.02 % and −0.24 → +0.21 %. But a review found
the geometry flags at most one pair a bed (of 270–780); the effect is the widened band's,
a move of the whole table by +0.3 to +0.9 points at 2–2.5 pixels, which helps where the
table read low and harms where it did not: at the true radius (seeds 1–3) 0.94 → 1.12 %,
outside 3 → 5; on beds of 128² (18 cases) mean absolute error 0.74 → 0.80 % (noise 0.05:
0.64 → 0.83 %, every case higher); on 96² and 160² (16 cases at 2 pixels) 0.59 → 0.92 %,
at noise 0.05 every case worse by 0.4–0.85 points. The pairs the band leaves out offset
the fit's own excess at low noise (see "The seeds' spacing" in
:mod:`~xarray_microct.ops.fiber_scale.disks`); the two must be mended together. The shift's
standard error over a 64² bed's ~100 pairs is 0.8–1.0 % of the radius (0.4 % at 128²):
the 64² sweep cannot show a gain of that size.

Issue 13's textured bed at 2 pixels (2026-12-03; no change made). Each default run of
``benchmarks/fiber_table_radius.py --phantom other --radii 2 --grid --default`` (seeds
1–3) was split into its parts against the truth (``/`` separates the three seeds):

* **The rows in no pair.** At noise 0.05 and 15°, seed 2, the paired rows read +1.3 %
  before the shift and the 8 % of matched rows in no pair −9.4 %. Of those, 171 rows
  belong to fibers the fit has no section for (entering or leaving the field along the
  tilt; −1.0 %, harmless). The other 124 are three fibers whose mask holds about half
  their area on every slice (5–7 pixels for 11; −18 to −30 %). The guard leaves those
  pairs out, as it must (see "Since": the guard one-sided was tried). They take 0.7
  point off the table's mean. Why the mask holds half of them (Otsu's floor, on their dark
  surroundings) and what was tried: :mod:`~xarray_microct.ops.fibers.mask`, "Otsu's
  floor under a calibration".
* **A per-row correction by the gap to the nearest neighbour.** The table's error does
  fall with the gap (+0.3 pixel touching, −0.35 at 1.75 pixels). But that gap measured
  with the row's own radius carries the row's own error: its apparent gain, a −2.48 →
  −1.68 % mean and 60 % of the per-row variance, is that shared error. With the gap taken
  from the centres and the median radius, the gap explains 3–15 % of the variance, and a
  line fitted on the pairs leaves the mean where it was (−2.49 / −2.46 %).
* **The contour's curvature.** A disk blurred by s has its mid-level contour at about
  r − s²/2r, and the fit's blur is right (0.97–1.02 for 1.0 on the textured bed,
  0.69–0.75 for 0.7 on ``fiber_bed``). Inverting that on every row before the shift moves
  the means up 0.2–0.7 point (that case −2.39 → −1.87 %). On untilted beds the table's
  slope on the true radius goes 1.11–1.17 → 1.01–1.03, but on tilted beds 1.02–1.05 →
  0.90–0.95, where the table shows no such spread (untraced). Not used.
* **The bed's size.** On 64 slices instead of 32, the four F1 misses at noise 0.25
  (0.965–0.969: the end slices') are 0.973–0.989. Two radii are still outside ±2 %, in
  other cases (8°, seed 2: −3.21 %; noise 0.25, 0°, seed 2: −2.72 %). On beds of 128²
  the shift's standard error halves (above). The noise 0.05, 15° cases then read −2.05
  / −1.30 / −1.55 %: a bias at that tilt of about −1.6 %, the fit's tilted sections and
  the half-area fibers together. The noise 0.05 and 0.15 cases at 0–8° lie within
  −1.6..+0.9 %, those at 0.25 within −1.2..+1.7 %. F1 at noise 0.25 there is
  0.968–0.981, and 0.975–0.987 without the 4 end slices at either end: the end slices
  weigh the same on any bed of 32 slices.

The 15° deficit of that bed (2026-12-03, branch ``tilt29``; no change made). On 64² ×
32 at noise 0.05 (``benchmarks/table_radius_stages.py``, seeds 1 / 2 / 3; fit on its
own sections, pairs' fit less the sample's truth, after): 0° +0.70 / −0.02 / +0.18,
+0.53 / +0.74 / +0.70, −1.06 / −1.57 / −1.14 %; 15° −1.25 / −1.15 / +0.55, −0.95 /
−0.86 / +0.75, −2.48 / −2.50 / −0.32 %. What the rows in no pair and the pairs' own
spread add (after less the pairs' fit error) is −1.6 to −2.3 points at 0° and −1.1 to
−1.6 at 15°: no tilt in it; the tilt's part is the fit's, about −0.9 point. Measured on
the sample's fit alone (:func:`~xarray_microct.ops.fiber_scale.measure_fiber_bed`, its
whole sections against their own true sections, ``√cos θ`` true; 128² × 32, noise 0,
seeds 1–4; 0° against 15°): the textured bed +0.51 ± 0.33 against −0.31 ± 0.28 %
(seeds 1–10 at 0°: +0.53 ± 0.35; 1–5 at 15°: −0.28), so the deficit is there without
noise. Ruled out, each against that −0.8 point:

* the blurred ellipse under an isotropic blurred-disk model (the issue's candidate):
  sections of 2 pixels (log-normal 10 %) stretched by ``1 / cos θ`` with their blur
  (1 pixel across, ``1 / cos θ`` along), on a flat background, fitted from the true
  centres and area radii (20 or 100 rounds the same; seeds 1–3): isolated +0.09 / −0.03
  % at 0 / 15°, packed (gaps 0.1 radius across) −0.02 / +0.01 %; the blur reads 1.016
  for ``1 / √cos 15° = 1.0175``. The second-order term appears only at 30° (−1.0 / −1.2
  %). No correction of the area-equivalent radius or of the tilt factor is called for;
* the fit's start: the rounds' radius seeds it 16.8–17.4 % above the area radius at 0°,
  15.5–16.9 % at 15°; forced to 1.17 times the true area radius at both tilts, +0.51
  against −0.36 %;
* the texture's motion: a texture that moves with the fibers (the phantom's field
  sheared along the tilt, slice by slice) reads −0.24 % at 15° (seeds 1–4);
* the texture's scale relative to the section (the section 1.8 % wider at 15°): a
  field of 1.8 instead of 2 radii at 0°, +0.53 %;
* the texture itself is needed: on a flat background (its amplitude 0) the fit reads
  −2.54 % at 0° and −2.07 % at 15° (seeds 1–4 / 1–3): from the same seed the fit ends
  3 points lower without texture, and the tilt moves it the other way.

What it is: where the 20 rounds stop. At 100 rounds (seeds 1–3) 0° +0.54 %, 15° +0.18 %
(at 20 rounds +0.48 / −0.17 %): the gap 0.65 → 0.36 point, the 15° blur 1.001 / 0.986 /
1.003 (0.978–0.982 at 0°). The fit creeps along the valley of larger disks under less
blur (see "Since" and :mod:`~xarray_microct.ops.fiber_scale.disks`'s "Whether the fit
converges at all"), and how far it has gone after 20 rounds depends on the image (the
texture, the stretch), not only on the start. Not solved by a rule on the tilt: the same
stretch reads +0.5 point higher on a flat background, so a tilt correction fitted to
this phantom would be one for its texture. More rounds were measured to trade other
beds (see "Since"); a fit that reaches its limit (or one whose limit is unbiased) is
what is left for this case.

Issue 13's last two misses, stage by stage (2026-12-04, branch ``texture32``; no change
made). The textured bed at 2 pixels, noise 0.05, 15°, seeds 1 / 2 (the default detection,
``benchmarks/fiber_table_radius.py``'s measure: −2.48 / −2.50 %). Each matched inner row
of the benchmark put in one of three classes by its true fiber: (A) a fiber whose fitted
section is in a pair the guard keeps (92 % of the rows), (B) one whose section the guard
leaves out (4 %), (C) one the fit has no whole section for (4 / 5 %). Then A −1.47 /
−1.57 %, B −21.4 / −24.1 %, C −7.9 / −4.2 %, and A is the fit's own error on the kept
pairs (−1.32 / −1.26 % against those fibers' truth): the shift (−5.10 / −2.89 % of the
radius) puts the pairs' table mean on the fit's, the tilt factor is within +0.11 / +0.06 %
of the true ``√cos θ``, and a mean of ratios against a ratio of means differs by under
0.1 point. So of −2.5 %: the fit's error about −1.3, the half-area fibers (B: the mask's
surroundings' level, see :mod:`~xarray_microct.ops.fibers.mask`) about −0.9, C about
−0.3. The tilt's part is the fit's alone: on the same seeds at 0 / 8 / 15° the fit on its
pairs reads +0.13 / +1.11 / −1.32 % and +0.05 / −0.42 / −1.26 %, B costs −1.1 / −0.2 /
−0.9 and −1.9 / −0.7 / −1.0 points at every tilt. Over the 18 textured 2-pixel cases of
the grid (noise 0.05 / 0.15 / 0.25 × 0 / 8 / 15°, seeds 1–2) A lies within 0.3 point of
the fit (−1.6..+1.8 %), B holds 3–11 % of the rows at −26..−1 % (−0.04 to −1.9 points),
C 3–9 % at −8..+10 % (−0.3 to +0.8 points; at 0.05, 8°, seed 1 seventeen fibers, most
of them packed among others, whose rows read +5 to +18 %). Tried (a prototype on the captured
tables, the rest of the detection unchanged): each left-out pair below the band whose
fitted disk holds no second row of the table (not a merge by the fit, nor a section split
by the mask) and whose fitted radius lies within ``SAME_SECTION`` of the kept pairs'
median fitted radius (not a fit that took a neighbour's ring: one read 2.71 for 1.88)
moves its own chain's rows by its own difference (fit less the rows' mean) instead of the
bed's shift, where that chain has no kept pair. Before → after (seeds 1–2, the 9 pairs of
noise and tilt, 72 cases; F1 unchanged, the rows move only): textured 2 pixels outside
±2 % 2 → 1 of 18, mean absolute error 1.21 → 0.84 %, mean −0.80 → +0.19 %, the two
misses −2.48 / −2.50 → −1.49 / −1.51 %; but 0.05, 8°, seed 1 +1.52 → +2.13 % (its B was
only −3.5 % and C +9.8 % on 8 % of the rows: the low rows offset the fit's +1.1 %);
``fiber_bed`` 2 pixels 0 → 0 of 18, 0.73 → 0.61 %, worst −1.69 → −1.47 %; 3 pixels (both
phantoms) no chain moved, the same; held out (textured 2 pixels, seeds 3–4, 18 cases)
outside 2 → 0 (noise 0.05, 15° and 8°, seed 4: −2.51 / −2.70 → −1.66 / −1.21 %), 1.05 →
0.61 %; 5 pixels (both phantoms, the three conditions, seed 1) no chain moved. Built
into :func:`calibrate_radii` (chains read from the table's ``fiber_id``), the detection
gave the same 96 figures as the prototype. But ``tests/test_fiber_calibrate.py``'s mixed
beds of 2, 2.5 and 3 pixels (seeds 1 / 2): 6 / 5 chains moved, all 2-pixel fibers, that
class −0.25 / −0.46 → +1.31 / +1.04 % (2.5 and 3 pixels the same), all −0.31 / −0.66 →
+0.46 / +0.03 %, the slope 0.966 / 0.977 → 0.928 / 0.941 (the test's bound 0.95;
whether those sections' fits read high or their rows were nearer right is untraced).
Not used: a case that passes fails, and the sizes' slope falls. What is left is the
fit's own error on a 64² bed's ~110 sections (−1.3..+1.9 % on these 18 cases, standard
deviation 0.9 point; see "Issue 13's textured bed at 2 pixels on 64² × 32") and C's
packed fibers; the per-chain move mends B on one-size beds, and wants those and the
mixed beds' small class mended with it.

Limits. Below about 1.8 pixels of radius the fit itself reads high, up to +5 % at 1.6
pixels (flat background, blur 1 pixel): the table follows it there. The shift is made
once the table is whole, after :func:`~.assembly.settle_fibers` has decided each
fiber's ``touches_side`` on the mask's radii (the disk of the fiber's axis and its
median radius before the shift, in each part of the graph): a fiber whose disk passes
the side by less than a negative shift is still marked, one that misses it by less
than a positive shift is not. Recomputing it would need the parts' rows and the
volume's sides in the client; the shift is a few hundredths of a pixel to a few tenths.
Likewise a row within the shift of ``min_radius`` (a bound on the mask's sections, not
on the table) can end up below it after a negative shift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from xarray_microct.ops.fiber_scale import FittedSections

__all__ = [
    "CALIBRATION_KEY",
    "RadiusCalibration",
    "calibrate_radii",
    "same_sections",
    "section_pairs",
]

CALIBRATION_KEY = "radius_calibration"  # the table's attrs entry that records it
MIN_PAIRS = 20  # fewest sections paired for a calibration
MIN_SHARE = 0.5  # least share of the fit's sections that find their rows
SAME_SECTION = 1.25  # most ratio of a pair's radii ratio to the median's (else split/merged)
AGREE = 1.25  # most ratio of the fit's mean radius to the detection's radius


@dataclass(frozen=True)
class RadiusCalibration:
    """What :func:`calibrate_radii` needs besides the table.

    ``fitted``: the fit's sections (pixels of the scan); ``spacing`` and ``origin``:
    the scan's grid ``(z, y, x)``; ``tilt_factor``: the bed's ``(1 + slope²)^-1/4``,
    which removes the tilt's ellipse from the fit's radii as the table's radii have it
    removed; ``radius``: the detection's radius (the table's units), which the fit was
    seeded at.
    """

    fitted: FittedSections
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    tilt_factor: float
    radius: float


def section_pairs(
    table: pd.DataFrame, calibration: RadiusCalibration
) -> tuple[np.ndarray, np.ndarray, int]:
    """(table radii, fitted radii, sections fitted): the paired sections' radii.

    Each fitted section's table radius is the mean of its rows' on the slices of its
    image (the section moved along the drift, the nearest row within half the
    section's fitted radius, found on at least half of those slices); its fitted
    radius is in the table's units, the tilt's ellipse removed.

    Examples
    --------
    >>> from xarray_microct.ops.fiber_scale import FittedSections
    >>> fitted = FittedSections(
    ...     np.array([1.5]), np.array([10.0]), np.array([20.0]), np.array([2.0]),
    ...     np.array([0]), ((0, 1, 2, 3),), (0.0, 0.0),
    ... )
    >>> table = pd.DataFrame({"z": [0.0, 1, 2, 3], "y": 5.0, "x": 10.0, "radius": 1.1})
    >>> calibration = RadiusCalibration(fitted, (1.0, 0.5, 0.5), (0.0, 0.0, 0.0), 1.0, 1.0)
    >>> section_pairs(table, calibration)
    (array([1.1]), array([1.]), 1)
    """
    fitted = calibration.fitted
    dz, dy, dx = calibration.spacing
    z0, y0, x0 = calibration.origin
    n = len(fitted.radius)
    if n == 0 or table.empty:
        return np.zeros(0), np.zeros(0), n
    drift = np.asarray(fitted.drift, dtype=np.float64)
    # only the rows on the sampled slices, within reach of the sample's tile (a whole
    # scan's table holds millions): the same nearest rows within the reach
    zi = np.round((table["z"].to_numpy(np.float64) - z0) / dz).astype(np.int64)
    needed = np.unique(np.array([k for ks in fitted.slices for k in ks], dtype=np.int64))
    near = np.flatnonzero(np.isin(zi, needed))
    yx = np.column_stack(
        [
            (table["y"].to_numpy(np.float64)[near] - y0) / dy,
            (table["x"].to_numpy(np.float64)[near] - x0) / dx,
        ]
    )
    centres = np.column_stack([fitted.y, fitted.x])
    move = float(np.max(np.abs(drift))) * float(needed.max() - needed.min())
    reach = 0.5 * float(np.max(fitted.radius)) + move + 1.0  # beyond any query's ball
    inside = np.all((yx >= centres.min(axis=0) - reach) & (yx <= centres.max(axis=0) + reach), 1)
    near, yx = near[inside], yx[inside]
    by_slice = np.argsort(zi[near], kind="stable")  # by slice, then row
    order, yx = near[by_slice], yx[by_slice]
    radius = table["radius"].to_numpy(np.float64)[order]
    starts = np.searchsorted(zi[order], needed, side="left")
    ends = np.searchsorted(zi[order], needed, side="right")
    rows = {int(k): np.arange(a, b) for k, a, b in zip(needed, starts, ends, strict=True)}
    trees = {k: cKDTree(yx[r]) for k, r in rows.items() if len(r)}
    mask_r, fit_r = [], []
    for i in range(n):
        slices = fitted.slices[fitted.group[i]]
        found = []
        for k in slices:
            if k not in trees:
                continue
            at = np.array([fitted.y[i], fitted.x[i]]) + drift * (k - fitted.z[i])
            distance, j = trees[k].query(at, distance_upper_bound=0.5 * fitted.radius[i])
            if np.isfinite(distance):
                found.append(radius[rows[k][j]])
        if len(found) >= 0.5 * len(slices):
            mask_r.append(np.mean(found))
            fit_r.append(fitted.radius[i])
    pixel = float(np.sqrt(dy * dx))
    fit = np.asarray(fit_r, dtype=np.float64) * pixel * calibration.tilt_factor
    return np.asarray(mask_r, dtype=np.float64), fit, n


def calibrate_radii(
    table: pd.DataFrame, calibration: RadiusCalibration
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table with its radii moved by the mask's bias (the paired sections' mean
    table radius onto their mean fitted radius), and the record of what was done (see
    the module docstring).

    Examples
    --------
    >>> from xarray_microct.ops.fiber_scale import FittedSections
    >>> k = np.arange(40.0)
    >>> fitted = FittedSections(
    ...     np.full(40, 1.5), 10 * k, np.full(40, 8.0), np.full(40, 2.0),
    ...     np.zeros(40, int), ((0, 1, 2, 3),), (0.0, 0.0),
    ... )
    >>> table = pd.DataFrame(
    ...     {"z": np.repeat([0.0, 1, 2, 3], 40), "y": np.tile(10 * k, 4), "x": 8.0,
    ...      "radius": 2.2}
    ... )
    >>> calibration = RadiusCalibration(fitted, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), 1.0, 2.0)
    >>> calibrated, record = calibrate_radii(table, calibration)
    >>> float(calibrated["radius"].iloc[0]), record["shift"]
    (2.0, -0.2)
    """
    mask_r, fit_r, n = section_pairs(table, calibration)
    same = same_sections(mask_r, fit_r)
    record: dict[str, Any] = {
        "sections_fitted": int(n),
        "sections_found": len(mask_r),
        "sections_paired": int(same.sum()),
    }
    if same.any():
        record.update(
            fitted_mean=round(float(fit_r[same].mean()), 6),
            table_mean=round(float(mask_r[same].mean()), 6),
        )
    if same.sum() < MIN_PAIRS or same.sum() < MIN_SHARE * n:
        record.update(
            applied=False, why="too few of the fit's sections paired with the table's rows"
        )
        return table, record
    fit_mean, mask_mean = float(fit_r[same].mean()), float(mask_r[same].mean())
    if not 1 / AGREE <= fit_mean / calibration.radius <= AGREE:
        record.update(
            applied=False,
            why="the fitted sections' mean radius is far from the detection's radius "
            "(a radius given far off?)",
        )
        return table, record
    # the whole difference: a dead zone left the table on the mask's side of the fit by
    # its width, in the same direction as the fit's own error (see "No dead zone" in the
    # module docstring)
    shift = fit_mean - mask_mean
    record.update(applied=bool(shift != 0.0), shift=round(shift, 6))
    if shift:  # a new radius column; the others are not copied (copy on write)
        table = table.assign(radius=table["radius"] + shift)
    return table, record


def same_sections(mask_r: np.ndarray, fit_r: np.ndarray) -> np.ndarray:
    """Which pairs are one section: the ratio of the table's radius to the fit's within
    ``SAME_SECTION`` of the pairs' median ratio (a section split in two by the fit, or
    two merged, lies outside; the median, not 1, since the mask's bias moves every
    pair's ratio: a sparse bed on a textured background, its table +40 %, had median
    ratio 1.37, and a guard about 1 kept 22 of its 75 pairs).

    Examples
    --------
    >>> same_sections(np.array([2.7, 2.8, 2.6, 1.4]), np.array([2.0, 2.0, 2.0, 2.0]))
    array([ True,  True,  True, False])
    """
    if len(mask_r) == 0:
        return np.zeros(0, dtype=bool)
    log_ratio = np.log(mask_r / fit_r)
    return np.abs(log_ratio - np.median(log_ratio)) <= np.log(SAME_SECTION)
