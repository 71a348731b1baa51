"""The bead-pack pipeline of the seed paper (its Fig. 3), lazy and chunk-exact.

``scan → Gaussian denoising → ring removal → invert + Otsu (rough segmentation) →
fill holes (post-processing) → distance map (capped by the bead cores') → watershed →
one label per bead → each bead's outline smoothed``.

Every step is a recorded verb of the library, so the labels carry the whole chain in
their provenance and :func:`xarray_microct.replay` re-runs it on another scan. Each
step gives the same result for any chunking: the denoising (and the optional opening)
through halos as deep as their kernels, the ring offsets from exact integer sums over
``z``, Otsu's threshold from the histogram of the whole volume, hole filling, the
distance map and the watershed exactly across chunks.

What differs from the paper's notebook, and why:

* denoising by a Gaussian whose sigma follows the scan's noise (the paper used ITK's
  bilateral filter, radius 12, and also tried a median): the noise, as a fraction of
  the contrast between the phases, is measured on a central box of the scan
  (:func:`noise_ratio`) and sets the sigma (:func:`denoising_sigma`): 0.7 voxel at a
  tenth of the contrast, a voxel at a third. The Gaussian's own rounding of the
  surfaces (it fills the necks between beads and pulls back their caps) is taken off
  to first order (:func:`~xarray_microct.ops.denoise.denoise`). On noisy scans the
  mask is what limits the overlap of the labels with the beads (the mask's overlap
  with the union of the true beads bounds theirs); the fixed median over a one-voxel
  ball used before left too much noise there;
* ring artefacts (a fixed offset per detector column, constant along the rotation
  axis ``z``) are taken off the smoothed scan before the threshold
  (:func:`~xarray_microct.ops.rings.remove_rings`): smoothing cannot average them out,
  since they do not vary along ``z``, and they moved the bead surfaces by as much as
  the noise did;
* no opening by default (the paper used an opening by reconstruction): the Gaussian
  leaves no specks, and an opening of a noisy mask shrinks the beads (it removes the
  bumps of their surfaces and leaves the dents);
* the watershed floods minus the exact Euclidean distance from one marker per bead,
  the centre of its largest inscribed ball (see
  :func:`~xarray_microct.ops.watershed.ball_markers_array`: a rule that scales with
  each bead, so the small maxima that noise, necks and rings put in the distance map
  give no extra bead), instead of ITK's morphological watershed with a ``level``: the
  markers are explicit and consistent across chunks. A bead that the scan's face cuts
  to a cap under half the radius (under 16 % of the bead) once got no marker and
  joined its neighbour; at the faces a marker now tops such a cap when its base
  reaches half the radius (on an independent pack cropped from a larger box,
  ``benchmarks/beads_faces.py``, beads lost with 15-30 % inside 12/74 -> 2/74, with
  5-15 % 115/140 -> 13/140, no extra label; the lab book is in
  :func:`~xarray_microct.ops.watershed.ball_markers_array`);
* the distance map the watershed takes its markers from and floods is the mask's
  capped by that of the beads' cores (2026-12-03;
  :func:`~xarray_microct.ops.watershed.core_distance`, in place of ``threshold`` and
  ``fill_holes`` in the provenance; the mask, and so the voxels labelled, are the same):
  ``min(d_mask, d_core + shift)``, the cores the voxels over half way from the threshold
  to the beads' level, the shift the median of ``d_mask`` on the cores' edge voxels. In
  dense packs (solid fraction 0.54, radius 6–8 voxels, blur of 1–1.2 voxels) the blur
  fills the narrow gaps between beads to over the threshold (10–16 % of the true
  background within a voxel of a bead was in the mask); a gap walled in by beads became
  the highest point of the mask's distance map (6.40 against 6.08 at the centre of the
  bead beside it), took that bead's marker, and the bead merged with a neighbour. A
  filled gap's values lie between the phases' levels, under the cores' level, so the
  cap holds it at the shift, while away from such gaps the map is the mask's own.
  Measured on an independent tester's phantoms (numpy/scipy: dense relaxed packs,
  random sequential ones, porespy packs; ``P / Q``: labels of true beads, ``(n)``: true
  beads under IoU 0.5), with the defaults:

  ====================================  =============  =============  =============
  pack                                  main           markers from   markers and
                                                       the cores'     flooding from
                                                       map only       the cap (kept)
  ====================================  =============  =============  =============
  I3 dense r 6, blur 1.0, no noise      497/503 (7)    504/503 (5)    503/503 (0)
  I5 the same at blur 1.2               486/503 (21)   502/503 (19)   501/503 (2)
  B8 r 6 ±20 %, blur 1.2, noise 0.2     460/480 (33)   473/480 (30)   471/480 (18)
  ====================================  =============  =============  =============

  (markers from the cores' map, flooding the mask's: the filled gap, higher than the
  bead's centre in the mask's map, flooded the bead from its neighbour's side and left
  the marker a sliver). Over all 67 of the tester's packs (radius 6–15 voxels, dense,
  random sequential, porespy, cut by the faces, 1.6:1 voxels, 8/16-bit and float), main →
  the cap: B1 492 → 503 of 503 (17 → 0), B7 496 → 503 (8 → 0), I1 492 → 502 (14 → 1),
  I4 499 → 503, I6 499 → 503 (9 → 1), I8 535 → 537, J1 500 → 503, J5 410 → 412, S2
  (2 seeds) 502 / 501 → 503, S3 320 → 321, A2 520 → 522 of 560 (46 → 44), I2, I7, J2,
  J3, R3 (seed 121) one bead fewer under 0.5; every other pack the same count, median
  IoU -0.001 to +0.004; worse: C2 (a random sequential pack of radius 6 cut by the
  faces) 303 → 302 of 307 (4 → 5). ``benchmarks/beads_accuracy.py``, main → the cap, the
  same hour: 34 / 34 counts exact both, median IoU 0.913–0.993 → 0.915–0.993 (per pack
  -0.001 to +0.002); ``--polydisperse`` 12 / 12 both, -0.002 to 0.000; ``--spread 0.6``
  8 / 12 exact both, about 6 voxels 59 / 66 / 53 / 60 → 58 / 68 / 53 / 62 labels of
  64 / 83 / 64 / 83 (seed 0 / 1, noise 0.1 then 0.3), their median IoU 0.703 / 0.769 /
  0.463 / 0.523 → 0.683 / 0.773 / 0.428 / 0.525 (seed 0's smallest beads, 2.4–2.8 voxels,
  lose core to the blur faster than the shift allows), about 10 and 15 voxels within
  -0.002 to +0.004 (about 10, seed 1, noise 0.3: 0.901 → 0.899, under the 0.9 line).
  A test's dense pack of 148 beads of 6 ± 15 % voxels, blur of a voxel
  (``tests/test_beads.py``): 145 → 148 labels. Cost: a second exact distance map (the
  cores'), the tester's 67 packs 104 → 158 s of pipeline in all.
  Tried and not kept: markers and flooding from the cores' distance map alone (the
  mask's other voxels just above 0, the cores' own radius estimated on the central box
  for the markers' floors): the dense packs did better still (B8 478/480 (9), median
  IoU 0.887 against 0.878; the median IoU of every pack up 0.001–0.008), but the
  cores of the smallest beads are too thin for a round maximum:
  ``--polydisperse --spread 0.6`` about 6 voxels (radii 2.4–9.6), seed 0, 59 → 42 and
  53 → 33 of 64 labels at noise 0.1 / 0.3 (its beads of 2.4–2.8 voxels lost their
  markers), though seed 1 went 66 → 78 and 60 → 72 of 83; about 10 voxels, seed 0, one
  bead lost at each noise (76 → 75); the tester's A2f 3 → 5 and R3 (seed 122) 0 → 1
  beads under 0.5. The cores' level a quarter of the way instead of half (the tiny beads
  keep more core): that seed 0 52 / 45 of 64, seed 1 74 / 64 of 83, B8 473/480 (17).
  The cap at twice the shift: the smallest beads as on main, but most of the dense
  packs' gain lost (I5 498/503 (7), B8 462/480 (31)); the shift at the 75 % / 90 %
  quantile of the edge voxels' distances instead of the median: B8 469 / 467 of 480
  (21 / 23 under 0.5), the ±60 % pack about 6 voxels, seed 0, 58 / 59 and 55 / 55 of 64
  (median IoU 0.683 / 0.683 at noise 0.1, as with the median: that drop does not come
  from the shift; 0.463 / 0.463 at noise 0.3, as on main).
  What is left: at blur 1.2 and noise 0.2 the mask itself limits the IoU (mask IoU 0.90)
  and 18 of 480 beads are still under IoU 0.5 there (B8); the smallest beads of the
  ±60 % packs;
* a circular field of view's padding (2026-12-05): both distance maps of
  :func:`~xarray_microct.ops.watershed.core_distance` see it as beads (given the scan:
  beyond the field, as beyond the volume's faces, the scan says nothing), and the map
  is 0 on it; the last step, :func:`~xarray_microct.ops.outside_labels.clear_padding`,
  sets the labels on it to 0. Read as background, the padding halved the height of
  the caps the field's edge cuts in the map and the small ones lost their marker; where
  the edge is ragged (rim voxels outside the field) the blur filled those voxels over
  the threshold and the outlines' smoothing grew into them. Independent packs (numpy:
  64 × 128², radii 5-14, bright in a dark liquid, zeros outside a circle of radius 62,
  caps down to a height of 5 % of the radius inside; seeds 0, 1, 2, 7 at noise 0.1):
  cut beads over IoU 0.5 132 → 149 of 185 (5-15 % of the bead inside 2 → 12 of 24,
  under 5 % 0 → 1 of 21), labels on no bead 17 → 10, every whole bead before and
  after; a third of the rim voxels out (noise 0.3, float32): 2110 → 0 padding voxels
  labelled. Not done: the faces' cap rule of
  :func:`~xarray_microct.ops.watershed.ball_markers_array` on the field's edge (it
  would take the caps of under 15 %); not measured: the peak memory (the padding's mask,
  one task per block shared by both steps, is held until the last). Cost on a scan
  without padding (2026-12-05; the stored tube of 128 × 256², 4 blocks of 128³, 2878
  labels; ``microct run beads`` in-process, threads, CPU s of two runs): 13.75/13.95
  before the padding steps, 15.70/16.41 with them: the main thread 3.81/3.88 →
  4.60/4.90 (pint's unit registry built for ``check_same_grid`` of the scan, 0.45 s;
  not the label summary's ``to_delayed``: the build's main thread 1.39-1.41 s with it,
  1.40-1.49 with a summary by ``map_blocks`` and one ``blockwise`` task) and
  the tasks 9.99/10.16 → 11.15/11.36 (tasks run 532 → 563, no second pass over the
  scan, no EDT more; the tasks' CPU varies by ±0.7 s from run to run, and the ``where``
  tasks carry fused work of other steps, ``_zeroed``). The same grid's unit is now
  compared without pint (alternated with the padding steps' first version: main thread
  4.26/4.27 → 3.64/3.69, the whole run 14.13/14.20 → 14.17/13.98), and the ``|`` and
  ``where`` are skipped where a block holds no padding (the sizes counted with
  ``np.bincount``; these about 0.1 s). Withdrawn:
  ``to_delayed(optimize_graph=False)`` for the summary: with ``--workers`` the blocks'
  placement (``_on_their_blocks``) is asked for every key of the labels' layers and
  fails on a key not of a block (``watershed-settle``); the ``map_blocks`` summary
  builds there (the same count and radius) but saves nothing measurable. In a
  warm process (the summary's blocks not optimised), build and compute 8.80 without
  the padding steps and the summary, 9.42 with them (medians of 3, ±0.4): what is left
  of the tasks' cost is under the machine's noise, not found. A uint16 scan whose liquid's noise
  clips to 0, the padding's value, inside the field (2026-12-05): the padding's mask
  now comes from the slices' rings where the histogram's rule refuses it
  (:func:`~xarray_microct.core.stats.field_edge_rule`; numbers in
  :mod:`xarray_microct.core.stats`, "Padding and clipping": held-out packs 10302 → 0
  padding voxels labelled). Still lost there (``benchmarks/beads_field.py``, held-out
  seeds 7-10, uint16, noise 0.1 and 0.3): 54 of 70 beads with 5-15 % of their ball in
  the field, 9 of 10 under 5 %, 23 of 66 at 15-30 %; the faces' cap rule on the field's
  edge is still not done (the padding's mask would reach the markers' kernel, whose caps
  and base discs follow the faces' axes, not the edge's radial normal);
* the watershed floods the distance map smoothed by a Gaussian of a quarter of the
  small beads' radius (the markers come from the map itself): on noisy scans the rough
  bead surfaces put saddles in the map that bend the borders between touching beads.
  The small beads' radius (2026-12-02) is the 10 % quantile of the radii of the
  inscribed balls the watershed takes as markers on the central box the bead radius is
  estimated on (:func:`sample_radii`; the bead radius itself when it is given): at a
  quarter of the typical radius the map smoothed over small beads next to large ones
  lost their basins to them (a test's pack of beads of 11 and 4 voxels, 8 and 140 of
  them, typical radius 8.9–9.1: 139–146 of 146–149 beads labelled, the small ones'
  median IoU 0.83–0.85; at the small beads' radius, 3.3, every bead and 0.86–0.87;
  ``benchmarks/beads_accuracy.py --polydisperse --spread 0.6``, radii 4–16 voxels about
  10 and 6–24 about 15, with the markers' floor of a quarter of the radius: 4 of 8
  packs counted exactly → 8 of 8, median IoU 0.79–0.97 → 0.84–0.97; measured before
  the markers under half the radius had to be round, which lost the small beads whose
  neck the denoising filled, until the neck rule of
  :func:`~xarray_microct.ops.watershed.ball_markers_array` found them again: that
  test's pack 123–124 → 146–149 labels, its small beads labelled 112–113 → 138–142 of
  139–142). In packs of
  equal beads it moves the median IoU by at most 0.002 (``benchmarks/beads_accuracy.py``,
  34 packs; ``--polydisperse``, ``--ellipsoids``).
  The smoothing of the outlines (below) stays at the typical radius: at the small
  beads' it grows the larger beads' bumps (the ±20 % packs of 6 voxels at noise 0.3,
  median IoU 0.926 / 0.919 → 0.890 / 0.886; ellipsoids of axis ratio 1.6, 0.920 →
  0.869), while at the typical radius it shrinks the small beads (their median IoU
  0.92 at their own radius, 0.86 at the typical one): a level per bead, from its own
  size, would serve both and is not built (it needs a table of every marker's height
  in each smoothing task);
* the watershed's markers' plain floor follows the small beads' radius (2026-12-03; the
  watershed's ``min_object_radius=``): a maximum of half the small beads' radius and
  more is a marker, where it had to reach half the typical radius (``object_radius=``,
  which still sets the reach and the tests of roundness from a quarter of it, where the
  floor is over that, and is what ``attrs["bead_radius"]`` reports and the outlines'
  smoothing follows; the faces' rule takes caps down to a base of the floor). The
  typical radius weighs the beads by volume: in a bimodal pack (radii 12 and 4 voxels,
  80 % small by count) it came out at 8.2-8.8 voxels, the floor at 4.1-4.4, over the
  small beads' depth in the mask (3.5-4 voxels); clustered, with necks, they failed the
  tests of roundness, and up to 7 small beads shared one label. The small beads' radius
  is measured with the markers on the scan's faces left out (:func:`_small_radius`: they
  top the caps of beads the faces cut; with them, packs cut by the faces read 0.4-0.6 of
  the typical radius instead of 0.75-0.9).
  Measured on an independent tester's phantoms (numpy/scipy; 112-128³, blur a voxel,
  noise a tenth of the contrast; beads over IoU 0.5 / labels / true beads, median
  IoU), main → the floor at the small beads' radius:

  ==============================  =========================  =========================
  pack                            main                       kept
  ==============================  =========================  =========================
  P4 bimodal 12 / 4, 80 % small   797 / 876 / 992, 0.898     985 / 985 / 992, 0.904
  P6 the same, another seed       789 / 874 / 1011, 0.873    1004 / 1005 / 1011, 0.882
  P2 lognormal, CV 0.4            425 / 429 / 454, 0.918     443 / 448 / 454, 0.920
  P1 lognormal, CV 0.3            428 / 430 / 439, 0.939     431 / 434 / 439, 0.939
  R6 lognormal, CV 0.3            321 / 321 / 326, 0.932     324 / 324 / 326, 0.932
  D3 dense bimodal 12 / 4         903 / 903 / 908, 0.735     908 / 908 / 908, 0.736
  D4 dense lognormal, CV 0.4      320 / 321 / 330, 0.913     320 / 330 / 330, 0.915
  D1 dense lognormal, CV 0.3      365 / 366 / 368, 0.917     366 / 368 / 368, 0.918
  ==============================  =========================  =========================

  (labels holding two true beads or more, P4 / P6 / P2: 85 / 93 / 22 → 4 / 7 / 6.) The
  same counts and median IoU: bimodal 10 / 5 (P3), 12 / 6 (P7), 12 / 4 with 95 % small
  (P5), dense 10 / 5 (D2); ellipsoids of axis ratio 1.3, 1.6 and 2 (E1-E3, 310, 284 and
  280 grains: none split more), polyhedra (A1), sintered beads (S1), equal beads (R0,
  T0), the tester's packs with cupping, drift and noise (I1-I5, I7), chunked (K1 302 →
  306 of 307 over IoU 0.5), thin (T1, T2) and anisotropic ones (Z1, Z2) the same or
  better. Worse: A2 (59 polyhedra of 6 faces, 10.5 voxels) 60 → 62 labels, 58 beads over
  0.5 both (a 1- and a 5-voxel label on the faces); I6 (a drift of 0.8 of the contrast
  along ``z``, whose mask holds junk) 360 → 428 labels (59 → 125 on no bead), and C4 /
  C6 (a tube with air in an annulus about it, the mask IoU 0.61) 258 / 263 → 672 / 634
  labels (81 / 90 → 493 / 457 on no bead): a mask that holds the air's rim gets a marker
  at every rise of it over half the small beads' radius; C7 (a column in air) one label
  more on no bead (7 → 8). ``benchmarks/beads_accuracy.py``: the 34 packs,
  ``--polydisperse``, ``--ellipsoids`` the same counts and IoUs to the last digit;
  ``--polydisperse --spread 0.6`` about 6 voxels 58 / 68 / 53 / 62 → 64 / 78 / 59 / 69
  labels of 64 / 83 / 64 / 83 (seeds 0 / 1, noise 0.1 / 0.3), median IoU 0.683 / 0.773 /
  0.428 / 0.525 → 0.719 / 0.804 / 0.493 / 0.595, about 10 and 15 voxels the same.
  ``benchmarks/beads_faces.py`` (12 packs of ±10 % cut by the faces, 796 beads): lost
  134 → 125 (under 5 % inside 122 → 115 of 186, 5-15 % 10 → 8 of 140), extra labels 0 →
  0 (7 with the faces' markers counted in the small radius), median IoU of the whole and
  the cut beads within -0.006 to +0.003. A test's bimodal pack (13 beads of 12 voxels,
  62 of 4, clustered with necks; ``tests/test_beads.py``): 69-70 → 75 labels of 75.
  Tried and not kept: the whole rule at the small beads' radius (the watershed's
  ``object_radius=``, the roundness tests' floor a quarter of it): the same on every
  pack above but the containers and drift, where the mask's junk rims gave more labels
  still (C7, a column in air, 209 → 470 labels, 7 → 261 on no bead; C8 198 → 262; I6 →
  563); the floor at no less than a quarter of the typical radius (``max(small, typical
  / 2)`` as the floor's radius): C4, C6 and I6 as with the floor kept (their junk rims
  rise 1.7-3.3 voxels), D4 321 labels (5 holding two beads) as on main. The tester's
  radius given as ``"4 voxel"`` on P4 / P6: 985 / 1004; at 5, 6 and 7.5 voxels P4 1000,
  984 and 744. Cost: within the noise of a loaded machine (``benchmarks/beads.py --quick
  --estimate``, wall / CPU seconds 6.3 / 6.2 and 5.7 / 5.8 → 5.9 / 5.7 and 7.6 / 6.5,
  the same labels). When ``bead_radius=`` is given, nothing changes. What is left: the
  junk of masks that hold the air about a sample (C4, C6, I6), which the markers' floor
  cannot tell from small beads (where the air is found, dropped since: next item);
* where the scan holds air about the sample (2026-12-03,
  :mod:`~xarray_microct.ops.outside_labels`), the labels within ``OUTSIDE_REACH`` (2)
  voxels of the voxels :func:`~xarray_microct.ops.intensity.fill_outside` moves are
  dropped (set to 0, the others keep their numbers) when they are slabs, over
  ``MAX_BALL_RATIO`` (4) times the volume of the ball of their largest distance (the
  watershed's map: their inscribed ball; a ball is 1, a half ball 4, a bead cut by the
  scan's face at a quarter of its diameter 1.25, since the faces are no background for
  the map), or thinner than half the typical bead radius (their largest distance under
  it: the markers' plain floor of a pack of equal beads, which held before the floor
  followed the small beads). A wall at the beads' level between the pack and the air,
  and the rim the blur mixes with the air, are in the mask; the floor at the small
  beads' radius put a marker on every bump of them. The recorded verb
  ``drop_outside_labels`` (its parameters, and the stages of the chain it reads: the
  scan and the watershed's map; :func:`xarray_microct.replay` and an exported pipeline
  pass their own); the lazy coordinate ``outside_labels_dropped`` says how many.
  Whether the scan holds air at all is judged first, eagerly, on the field's two
  diagonals (at most 256 voxels each) on at most 8 evenly spaced slices (the same for
  any chunking, the chunks they cross only:
  :func:`~xarray_microct.ops.outside_labels.has_outside`); a scan
  without air gets no such step and pays that sample only (a 512³ pack: measured in
  the CHANGELOG). Per block, the labels present in it (a table of their voxels,
  largest distance and contact, the size of the block's labels); combined in one
  task; zeroed block by block: lazy and the same for any chunking. Where the step runs,
  the labels are held until its table is made.
  The rule suggested first, the slab ratio alone, left most of the junk: on C1 (a tube,
  a 5-voxel wall at the beads' level) 749 → 635 labels: the markers cut the wall into
  compact pieces (median ratio 1.6, largest distance 1.7-4 voxels), as round as small
  beads; what tells them from beads is their scale, the wall's half thickness. Looked at
  to choose (each label's ratio, distance and contact against the truth): C1 and C7 (a
  column in air, its beads touching the air: ratio 1.6-2.2, distance 5.4-8.5 voxels).
  Measured on the tester's phantoms (112 × 128², radius 7 ± 20 %, blur a voxel, noise
  0.1; beads over IoU 0.5 / labels / labels under IoU 0.3 / median IoU), main → kept:

  ===================================  ======================  =======================
  scan                                 main                    kept
  ===================================  ======================  =======================
  C1 tube, wall 5 at the beads' level  247 / 749 / 502, 0.929  247 / 256 / 9, 0.929
  C3 the same, air above the beads     160 / 770 / 610, 0.925  160 / 173 / 13, 0.925
  C4 tube, wall 4, air in an annulus   177 / 672 / 493, 0.929  177 / 181 / 2, 0.929
  C7 a column in air, no wall          190 / 210 / 8, 0.927    190 / 203 / 1, 0.927
  C2 tube, bright wall                 262 / 262 / 0, 0.930    the same
  C5 tube, air ring before padding     258 / 358 / 100, 0.922  the same (no air found)
  ===================================  ======================  =======================

  (of 247, 161, 179, 209, 262 and 258 beads; C3, C4, C2, C5 held out.) A test's tube of
  52 beads (``tests/test_beads.py``): 126 → 57 labels, 70 → 4 on no bead, 50 beads over
  0.5 both (the table above was measured before the check on the diagonal planes). A
  larger tube of our own (96 × 176², beads of radius 4.5-6, a 5-voxel wall at their
  level; 561 beads): 864 → 778 labels, 283 → 217 on no bead, every bead over 0.5 both:
  the wall's pieces there reach 3 voxels of distance, over half the bead radius (2.6),
  and are as round as beads (the rule holds where the wall is thinner than the beads'
  radius, as in C1). What is left: that case; a bead under half the typical radius
  that touches the air is dropped too (a bimodal pack in a tube: its small beads at
  the tube's surface); the
  air the outside's rule does not find (C5: a ring of a few voxels before the
  reconstruction's padding; a drift along ``z``, I6) keeps its junk;
* the bead radius, when not given, is estimated from the distance map ``d`` of the
  mask: for a ball of radius ``r``, ``E[d²] / E[d] = 0.4 r`` over its voxels, moments
  that the many voxels of each bead make robust to noise (:func:`estimate_radius`),
  taken on a central box of the scan (:func:`sample_radius`), so that the estimate
  costs a fixed amount, not a second pass over the whole scan. On that box the phase
  kept is checked to be the beads, not the space between them (bright beads with the
  default ``invert=True``): the largest inscribed balls at its markers cover beads
  (:func:`ball_cover`), 0.7 of them and more, not the pores, under 0.5 (an error names
  the switch; when the beads were cut by the faces, the pores were labelled before).
  Since 2026-12-03 the box is read and checked also when ``bead_radius=`` or
  ``min_distance=`` is given (the pores were labelled silently there), with each
  phase's cover at the radius estimated on the box, as without them: the given radius
  is the beads' scale, not the pores' (see :func:`_check_polarity`).
  Beside the air (2026-12-04): the mask's largest inscribed balls that touch the air
  found on the box (the voxels the pipeline's ``fill_outside`` moves there; within
  ``AIR_REACH`` voxels of their background, the rim the blur leaves) are left out of the
  moments (:func:`air_balls`; all kept where those balls cover the whole mask). A
  container wall at the beads' level lies in their mask, and the moments weigh its slab
  by volume (a slab of half thickness ``h`` reads ``1.67 h``); the wall's balls all touch
  the air, a bead's inside the sample do not. Measured on tubes of beads 4.5-6 voxels
  (tests' ``_tube_pack``, 48 × 80², tube 26, air a rim of 2 at the field's sides, seeds
  1-3; the true beads' own moments 5.27-5.52), main → this rule, without / with a free
  surface at 30: wall 12: 9.76-9.80 / 9.86-9.88 → 5.20-5.36 / 5.13-5.36; wall 8:
  6.75-6.79 / 6.70-6.74 → 5.25-5.41 / 5.07-5.31; wall 4: 4.73-4.81 / 4.46-4.54 →
  5.37-5.50 / 5.10-5.34; no wall: 4.87-4.99 / 4.71-4.87 → 5.32-5.40 / 5.17-5.33 (the
  rims the blur leaves between the liquid and the air, at the beads' level, read as
  thin objects and pulled it down); rim of 10, wall 12, surface: 9.83-9.86 → 5.09-5.32.
  Beads found (IoU ≥ 0.5) the same on all 27 scans but one (35 → 36 of 37); labels on
  no bead (all pieces of the wall, which the outside's step keeps where it is thicker
  than the beads) the same without a surface (none), with it: wall 4: 19 / 5 / 4 → 2 /
  3 / 1, wall 8 the same (12 / 12 / 9), wall 12 8 / 9 / 8 → 9 / 10 / 8 (rim 10: 7 / 8
  / 8, the same): at the beads' radius the watershed cuts a thick wall in more pieces.
  Packs without air (``bead_pack``, radius 6 / 10 / 15, noise 0.1 / 0.3, seeds 1-2):
  the same estimate, beads and labels (no air: nothing left out). Held out (tubes of our
  own, seeds 1-2, the true beads' moments in brackets): beads 8-10, wall 16, 64 × 112²,
  with / without a surface 13.56-13.65 → 8.34-8.89 (8.88-9.01), beads found the same,
  labels on no bead 21 / 21 → 21 / 23 and 6 → 6; beads 4.5-6, wall 10, voxels 1.5 along
  ``z``: 8.29-8.30 → 5.54-5.58 (5.74-5.88), the same beads, 13 / 29 → 13 / 28 on no bead.
  ``AIR_REACH`` from 0.5 to 4 voxels: 5.06-5.42 on the tubes of seed 1 (walls 0 / 4 / 12,
  with and without a surface). Cost: a histogram pass over the box where it holds no air
  (about 0.1 s CPU at 128³), and where it does two EDTs and the union of the balls in
  one exact pass per axis (:func:`~xarray_microct.ops.distance.ball_union_envelope`;
  until 2026-12-04 an EDT per voxel of the largest ball's radius: a 128³ box by a wall
  of 16 / 32 / 60 voxels 1.3-1.7 / 2.0-2.5 / 3.9-5.1 → 0.3-0.6 s; the same cover but
  for voxels at a ball's very radius, which the float32 EDT's rounding had left out on
  some grids of non-integer spacing);
* each bead's outline is smoothed alone (:func:`~xarray_microct.ops.shapes.smooth_labels`,
  a Gaussian of 1.5 denoising sigmas cut where a ball of the bead radius keeps its
  size): on noisy scans of small beads the mask's bumps and dents of a voxel, which no
  smoothing of the scan takes off without filling the necks and pulling back the caps,
  limited the beads' overlap with the true ones (at 6 voxels of radius and noise a third
  of the contrast, median IoU 0.872-0.894; 0.915-0.926 smoothed).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import dask.array as da
import numpy as np
import scipy.ndimage as ndi
import xarray as xr

from xarray_microct.core.blocks.placement import follow_blocks, spread_over_workers
from xarray_microct.core.outside import lazy_outside, moved_array
from xarray_microct.core.progress import phase
from xarray_microct.core.stats import (
    clear_cuts,
    fill_padding_array,
    phase_levels,
    trim_histogram,
)
from xarray_microct.core.tree import level_taken
from xarray_microct.core.units import resolve_length
from xarray_microct.core.volume import grid_of
from xarray_microct.ops.denoise import SHARPEN_SCALE
from xarray_microct.ops.distance import ball_union_envelope, edt_array
from xarray_microct.ops.measure import label_summary_array
from xarray_microct.ops.outside_labels import has_outside
from xarray_microct.ops.watershed import ball_peaks

__all__ = [
    "air_balls",
    "ball_cover",
    "beads",
    "central_box",
    "denoising_sigma",
    "estimate_radius",
    "noise_ratio",
    "sample_radii",
    "sample_radius",
]


SAMPLE_SIDE = 128  # voxels per axis of the central box the radius is first estimated on
NOISE_FOR_ONE_VOXEL = 0.35  # noise / contrast that calls for a one-voxel Gaussian
MAX_SIGMA = 3.0  # voxels: the most smoothing the noise can ask for
BOX_BINS = 1024  # histogram bins of the smoothed central box (levels within 1/1024 of the range)
SMALL_SHARE = 0.1  # the small beads' radius: this quantile of the box's markers' heights
MIN_SMALL_PEAKS = 5  # fewest markers in the box for it (else the typical radius)
AIR_REACH = 2.0  # voxels the air may lie beyond the background nearest a ball touching it
BEAD_COVER = 0.65  # a phase whose markers' inscribed balls cover this share of it reads as beads
POLARITY_MARGIN = 0.15  # ... and as the beads, not the one kept, when covered this much more
NOT_GRAINS_COVER = 0.45  # a phase kept covered less than this reads as no grains at all: a warning


def estimate_radius(mask: xr.DataArray, margin: Sequence[int] = (0, 0, 0)) -> float:
    """The typical radius of packed balls from the distance map of their mask (computes).

    For a ball of radius ``r``, the distance ``d`` of its voxels to the background has
    ``E[d] = r / 4`` and ``E[d²] = r² / 10``, so ``r = 2.5 E[d²] / E[d]``; the second
    moment weighs the bead centres, less disturbed by rough surfaces than the rims.

    Parameters
    ----------
    mask : xarray.DataArray of bool
        The beads (non-zero), on a grid with physical coordinates.
    margin : sequence of 3 int
        Voxels per axis left out on both sides: the moments are taken over the inner
        box only (for a mask cut out of a larger one, whose distances are exact only
        away from the cut).

    Returns
    -------
    float
        The radius in the coordinate units (0.0 for an empty mask).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> z, y, x = np.ogrid[:41, :41, :41]
    >>> ball = (z - 20) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 <= 15**2
    >>> r = estimate_radius(mct.from_array(ball, spacing=0.5, chunks=20))
    >>> round(r / 0.5, 1)  # 15 voxels of 0.5 um
    14.9
    """
    distance, inner, _, _ = _box_distance(mask, margin)
    return _moments_radius(distance[inner])


def _box_distance(
    mask: xr.DataArray, margin: Sequence[int]
) -> tuple[np.ndarray, tuple[slice, ...], float, np.ndarray]:
    """The distance map of ``mask``, the box inside the margin, the margin's smallest
    width, and the mask itself (computed once for both)."""
    grid = grid_of(mask)
    data = mask.data if isinstance(mask.data, da.Array) else da.from_array(mask.values)
    values = np.asarray(data.compute()) != 0
    distance = edt_array(da.from_array(values), grid.spacing).compute()
    inner = tuple(slice(m, n - m) for m, n in zip(margin, distance.shape, strict=True))
    widths = [m * s for m, s in zip(margin, grid.spacing, strict=True) if m > 0]
    return distance, inner, min(widths, default=np.inf), values


def _small_radius(
    distance: np.ndarray, inner: tuple[slice, ...], spacing: Sequence[float], radius: float
) -> float:
    """The small beads' radius: the ``SMALL_SHARE`` quantile of the heights of the
    markers (:func:`~xarray_microct.ops.watershed.ball_peaks` at ``radius``) inside
    ``inner``, at most ``radius``; ``radius`` where there are fewer than
    ``MIN_SMALL_PEAKS`` markers. Markers on the map's sides, where ``inner`` reaches
    them (the box is the whole scan along that axis), are left out: they top beads
    the scan's faces cut, at the height of the cap left."""
    peaks = ball_peaks(distance, spacing, radius, inner)
    # a marker on the map's sides (where the box is the scan: the margin is 0) tops a
    # bead that the scan's face cuts, at the height of the cap left, not of its radius
    for axis, (part, n) in enumerate(zip(inner, distance.shape, strict=True)):
        for side in {part.start, part.stop - 1} & {0, n - 1}:
            index = [slice(None)] * distance.ndim
            index[axis] = side - part.start
            peaks[tuple(index)] = False
    heights = distance[inner][peaks]
    if heights.size < MIN_SMALL_PEAKS:
        return radius
    return float(min(np.quantile(heights, SMALL_SHARE), radius))


def air_balls(
    distance: np.ndarray, air: np.ndarray, spacing: Sequence[float], reach: float = AIR_REACH
) -> np.ndarray:
    """The mask's voxels within its largest inscribed balls that touch the air (eager).

    A ball of the mask centred at ``m`` (radius ``distance[m]``) touches the air where
    the air is as near to ``m`` as the background is, within ``reach`` voxels (of the
    largest spacing; the blur leaves a rim of neither between them). Such balls fill a
    container wall beside the air (its plateau of half its thickness) and the beads the
    air cuts, not the beads inside the sample.

    Parameters
    ----------
    distance : numpy.ndarray
        3-D distance map of the mask, in physical units (0 outside it).
    air : numpy.ndarray of bool
        The air about the sample (background to the mask).
    spacing : sequence of 3 float
        Voxel size per axis, in the units of ``distance``.
    reach : float
        Voxels the air may lie beyond the nearest background.

    Returns
    -------
    numpy.ndarray of bool
        The voxels covered (none where there is no air).

    Examples
    --------
    A slab of 8 voxels with air on one side, a ball of radius 6 beyond a gap of liquid:

    >>> slab = np.zeros((40, 40, 40), bool); slab[:, :, 2:10] = True
    >>> z, y, x = np.ogrid[:40, :40, :40]
    >>> ball = (z - 20) ** 2 + (y - 20) ** 2 + (x - 25) ** 2 <= 36
    >>> air = np.zeros_like(slab); air[:, :, :2] = True
    >>> covered = air_balls(ndi.distance_transform_edt(slab | ball), air, (1, 1, 1))
    >>> bool(covered[slab].all()), bool(covered[ball].any())
    (True, False)
    """
    spacing = np.asarray(spacing, dtype=np.float64)
    if not air.any():
        return np.zeros(distance.shape, bool)
    to_air = edt_array(da.from_array(~air), spacing).compute()
    touching = (distance > 0) & (to_air <= distance + reach * spacing.max())
    # each ball taken at its radius rounded down to whole steps of the finest spacing
    step = spacing.min()
    levels = np.arange(step, distance[touching].max(initial=0) + step, step)
    radius = np.zeros(distance.shape)
    taken = np.searchsorted(levels, distance[touching], side="right") - 1
    radius[touching] = np.where(taken >= 0, levels[np.maximum(taken, 0)], 0.0)
    # a voxel as far as a radius is within it (the rounding of either side left out)
    return (ball_union_envelope(radius, spacing) <= 1e-9 * step**2) & (distance > 0)


def _moments_radius(distance: np.ndarray) -> float:
    first = distance.sum(dtype=np.float64)
    second = np.square(distance, dtype=np.float64).sum()
    return float(2.5 * second / first) if first > 0 else 0.0


def ball_cover(distance: np.ndarray, spacing: Sequence[float], radius: float) -> float:
    """The share of a phase that the largest inscribed balls at its markers cover (eager).

    The markers are those the watershed would place
    (:func:`~xarray_microct.ops.watershed.ball_peaks` at ``radius``: one per bead, at
    the centre of its largest inscribed ball); each marker's ball has the distance map's
    value there (and half a voxel) as its radius. A pack of balls is covered
    by them, one per ball (about 0.9 of it on noisy scans: the necks, the rough surfaces
    and the caps the faces cut are left), whatever its density; the space between the
    balls is not: its markers sit in the pore bodies, small balls strung along a network
    of throats (0.3-0.5 of it, dense or sparse packs). This tells which phase of a
    two-phase scan is the beads (:func:`beads` checks the phase it keeps).

    Parameters
    ----------
    distance : numpy.ndarray
        3-D distance map of the phase, in physical units (0 outside it).
    spacing : sequence of 3 float
        Voxel size per axis, in the units of ``distance``.
    radius : float
        Typical bead radius of the phase (e.g. :func:`estimate_radius`), in those units.

    Returns
    -------
    float
        Covered voxels / voxels of the phase (0.0 for an empty phase).

    Examples
    --------
    A pack of balls of radius 6 and the space between them:

    >>> from xarray_microct.synthetic import bead_pack
    >>> _, truth = bead_pack(64, radius=6, seed=1)
    >>> balls = truth.values > 0
    >>> round(ball_cover(ndi.distance_transform_edt(balls), (1, 1, 1), 6.0), 2)
    0.95
    >>> round(ball_cover(ndi.distance_transform_edt(~balls), (1, 1, 1), 6.0), 2)
    0.41
    """
    spacing = np.asarray(spacing, dtype=np.float64)
    phase = np.count_nonzero(distance)
    if phase == 0:
        return 0.0
    peaks = np.argwhere(ball_peaks(distance, spacing, radius))
    covered = np.zeros(distance.shape, bool)
    for centre, height in zip(peaks, distance[tuple(peaks.T)], strict=True):
        # half a voxel more: the marker is the voxel nearest the ball's centre
        height += spacing.min() / 2
        reach = np.floor(height / spacing).astype(int)
        low = np.maximum(centre - reach, 0)
        high = np.minimum(centre + reach + 1, distance.shape)
        axes = np.ogrid[tuple(slice(a, b) for a, b in zip(low, high, strict=True))]
        square = sum(((a - c) * s) ** 2 for a, c, s in zip(axes, centre, spacing, strict=True))
        covered[tuple(slice(a, b) for a, b in zip(low, high, strict=True))] |= square <= height**2
    return float(np.count_nonzero(covered & (distance > 0)) / phase)


def _phase_covers(
    kept: np.ndarray, distance: np.ndarray, spacing: Sequence[float], radius: float
) -> tuple[float, float]:
    """:func:`ball_cover` of the phase kept as beads (``kept``, its distance map
    ``distance``) and of the other phase, the latter only when the former does not read
    as beads (under ``BEAD_COVER``; else ``nan``): only then is it needed."""
    cover = ball_cover(distance, spacing, radius)
    if cover >= BEAD_COVER:
        return cover, float("nan")
    other = edt_array(da.from_array(~kept), spacing).compute()
    return cover, ball_cover(other, spacing, _moments_radius(other))


def central_box(volume: xr.DataArray, side: int = SAMPLE_SIDE) -> xr.DataArray:
    """The central ``side``-voxel box of a scan (the whole scan along shorter axes)."""
    shape = volume.shape[-3:]
    box = [min(side, n) for n in shape]
    start = [(n - b) // 2 for n, b in zip(shape, box, strict=True)]
    return volume.isel(
        {dim: slice(s, s + b) for dim, s, b in zip(volume.dims[-3:], start, box, strict=True)}
    )


def _read_central_box(volume: xr.DataArray) -> xr.DataArray:
    """The central box of the scan, read once (computes it), chunked as the scan."""
    lazy = central_box(volume)
    values = lazy.values
    return lazy.copy(data=da.from_array(values, chunks=lazy.chunks) if lazy.chunks else values)


def noise_ratio(box: np.ndarray) -> float:
    """The scan's noise as a fraction of the contrast between its two phases (eager).

    The box smoothed by a one-voxel Gaussian gives, from its histogram, Otsu's
    threshold, each phase's level and the voxels clearly of each phase
    (:func:`~xarray_microct.core.stats.phase_levels`, the definition
    :func:`~xarray_microct.ops.rings.remove_rings` uses too); the contrast is the
    difference between the medians of the scan's values over the clear voxels of
    each phase (not smoothed: the smoothing blurs small objects). The noise is the
    robust spread (scaled median absolute deviation) of the second difference along
    ``z``, ``v[z] - (v[z-1] + v[z+1]) / 2`` (``sqrt(1.5)`` times the noise for white
    noise), of the scan's values over the clear voxels: along ``z`` only, so that
    ring artefacts (constant along ``z``) do not count as noise, and away from the
    phase boundaries, whose steps would. A circular field of view's padding, a
    constant or NaN (:func:`~xarray_microct.core.stats.padding_of`'s rule, on the box;
    :func:`~xarray_microct.core.stats.nan_padding_rule`) is left out,
    with the three voxels around it that the smoothing mixes with it.

    Parameters
    ----------
    box : numpy.ndarray
        A 3-D box of the scan (at least 3 slices along ``z``).

    Returns
    -------
    float
        Noise / contrast (``inf`` for a box of a single phase).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> phases = np.where(np.indices((40, 40, 40))[2] < 20, 70.0, 170.0)
    >>> round(noise_ratio(phases + rng.normal(0, 25, phases.shape)), 2)
    0.25
    """
    values = np.asarray(box, dtype=np.float64)
    if values.ndim != 3 or values.shape[0] < 3:
        raise ValueError(f"noise_ratio needs a 3-D box of at least 3 slices, got {values.shape}")
    # a circular field of view's padding, a constant or NaN: filled (so that the
    # smoothing does not spread it), and neither it nor the voxels the smoothing mixes
    # with it count
    filled, padding = fill_padding_array(da.from_array(values))
    value, _, nan_share = (float(v) for v in padding.compute(scheduler="synchronous"))
    field = np.ones(values.shape, bool)
    if np.isfinite(value) or nan_share > 0:
        outside = np.isnan(values) | (values == value)
        field = ~ndi.binary_dilation(outside, iterations=3)
        values = np.asarray(filled.compute(scheduler="synchronous"))
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise ValueError(
            f"the scan holds {bad} NaN or infinite value(s) in its central box, where the "
            "noise is measured, and they are not out-of-field padding (a share of the "
            "box outside its central disk): fill them first (e.g. vol.fillna(value)); "
            "smoothing spreads them"
        )
    smooth = ndi.gaussian_filter(values, 1.0, mode="nearest")
    if smooth[field].size == 0 or smooth[field].min() == smooth[field].max():
        return float("inf")
    counts, edges = np.histogram(smooth[field], bins=BOX_BINS)
    threshold, dark, bright = phase_levels(*trim_histogram(counts, (edges[:-1] + edges[1:]) / 2))
    dark_below, bright_above = clear_cuts(threshold, dark, bright)
    clear_dark, clear_bright = (smooth <= dark_below) & field, (smooth >= bright_above) & field
    if not (clear_dark[1:-1].any() and clear_bright[1:-1].any()):
        return float("inf")
    second = (values[1:-1] - (values[:-2] + values[2:]) / 2)[(clear_dark | clear_bright)[1:-1]]
    spread = 1.4826 * np.median(np.abs(second - np.median(second))) / np.sqrt(1.5)
    contrast = np.median(values[clear_bright]) - np.median(values[clear_dark])
    return float(spread / contrast) if contrast > 0 else float("inf")


def denoising_sigma(ratio: float, reference: float = NOISE_FOR_ONE_VOXEL) -> float:
    """The Gaussian sigma (voxels) for noise of ``ratio`` times the phase contrast.

    ``(ratio / reference) ** (2 / 7)`` voxels, at most :data:`MAX_SIGMA`: a one-voxel
    sigma for noise of ``reference`` times the contrast. The power balances the two
    errors of the bead surfaces that the sigma ``s`` trades: the noise left after
    smoothing moves them by about ``ratio / s ** 1.5`` (a 3-D Gaussian averages about
    ``s³`` voxels), the smoothing's rounding by about ``s²`` (the part that the
    sharpening leaves); the sum of their squares is least for ``s ∝ ratio ** (2 / 7)``.
    The reference is where one voxel did best on the noisy packs of both generators
    of ``benchmarks/beads_accuracy.py`` (noise a third of the contrast; at a tenth,
    the rule's 0.7 voxel did best there too).

    Examples
    --------
    >>> round(denoising_sigma(0.1), 2), round(denoising_sigma(0.35), 2)
    (0.7, 1.0)
    >>> denoising_sigma(0.0)
    0.0
    """
    if not (np.isfinite(ratio) and ratio >= 0):
        return MAX_SIGMA
    return float(min((ratio / reference) ** (2 / 7), MAX_SIGMA))


def sample_radius(
    volume: xr.DataArray,
    segment: Callable[[xr.DataArray], xr.DataArray],
    side: int = SAMPLE_SIDE,
    box: xr.DataArray | None = None,
) -> float:
    """The bead radius estimated on a central box of the scan (computes that box only):
    :func:`sample_radii`'s typical radius.

    Examples
    --------
    >>> from xarray_microct.synthetic import bead_pack
    >>> scan, _ = bead_pack(96, radius=6, seed=3, chunks=48)
    >>> round(sample_radius(scan, lambda v: v < 120, side=48))  # true radius: 6
    6
    """
    return sample_radii(volume, segment, side, box)[0]


def sample_radii(
    volume: xr.DataArray,
    segment: Callable[[xr.DataArray], xr.DataArray],
    side: int = SAMPLE_SIDE,
    box: xr.DataArray | None = None,
) -> tuple[float, float]:
    """The typical and the small beads' radius, estimated on a central box of the scan
    (computes that box only).

    The box (``side`` voxels per axis, at most the scan) is segmented by ``segment``
    and its distance map taken; the moments of :func:`estimate_radius` are taken over
    its central half, where the distances are those of the whole scan as long as they
    are shorter than the quarter of the box left around it (the background nearer
    than the box's edge is in the box). When a distance reaches that far, the box is
    doubled, up to the whole scan: the cost is bounded by the box, not the scan.
    Where the box holds air about the sample, the mask's largest inscribed balls that
    touch it (a container wall's, the beads' the air cuts) are left out of the moments
    (:func:`air_balls`; see :func:`beads`).

    The small beads' radius is the ``SMALL_SHARE`` (10 %) quantile of the heights of
    the markers the watershed would place in that central half (the largest inscribed
    balls' radii: one per bead; but for those on the scan's faces, the tops of beads
    the faces cut), at most the typical radius: the scale that the watershed's markers'
    floor and the smoothing of its map follow so as not to take the smallest beads'
    markers and basins (in a pack of equal beads, 0.8-0.9 of the typical radius; see
    :func:`beads`).

    Parameters
    ----------
    volume : xarray.DataArray
        The scan, lazy or not.
    segment : callable
        The pipeline's segmentation: scan → bead mask.
    side : int
        Voxels per axis of the first box.
    box : xarray.DataArray, optional
        That first box, already read (``central_box(volume, side)``): it is not read
        again.

    Returns
    -------
    (float, float)
        The typical and the small beads' radius in the coordinate units (0.0 when the
        box holds no bead, ``inf`` when the mask holds no background anywhere).

    Examples
    --------
    >>> from xarray_microct.synthetic import bead_pack
    >>> scan, _ = bead_pack(96, radius=6, seed=3, chunks=48)
    >>> typical, small = sample_radii(scan, lambda v: v < 120, side=48)
    >>> round(typical), bool(5 <= small <= typical)  # true radius: 6
    (6, True)
    """
    return _sample_box(volume, segment, side, box)[:2]


def _sample_box(
    volume: xr.DataArray,
    segment: Callable[[xr.DataArray], xr.DataArray],
    side: int = SAMPLE_SIDE,
    box: xr.DataArray | None = None,
    small: bool = True,
) -> tuple[float, float, tuple[float, float], bool]:
    """:func:`sample_radii`'s two radii, :func:`_phase_covers` on the box they were
    estimated on (``nan`` where the radius is 0 or ``inf``), and whether that box holds
    air about the sample (:func:`_box_air`); without ``small`` (the radius given: only
    the covers are wanted), the small beads' radius is not measured (``nan``)."""
    shape = volume.shape[-3:]
    part = central_box(volume, side) if box is None else box
    nothing = (float("nan"), float("nan"))
    while True:
        box_shape = [min(side, n) for n in shape]
        margin = [b // 4 if b < n else 0 for b, n in zip(box_shape, shape, strict=True)]
        mask = segment(part)
        distance, inner, reach, kept = _box_distance(mask, margin)
        middle = distance[inner]
        if box_shape == list(shape) or (middle.size and middle.max() <= reach):
            if not np.isfinite(middle).all():  # no background voxel in the whole scan
                return np.inf, np.inf, nothing, False
            spacing = grid_of(mask).spacing
            air = _box_air(part)
            radius = _moments_radius(_inside_sample(distance, air, inner, spacing))
            if radius <= 0:
                return 0.0, 0.0, nothing, False
            covers = _phase_covers(kept, distance, spacing, radius)
            if not small:
                return radius, float("nan"), covers, bool(air.any())
            return radius, _small_radius(distance, inner, spacing, radius), covers, bool(air.any())
        side *= 2
        part = central_box(volume, side)


def _box_air(box: xr.DataArray) -> np.ndarray:
    """The air about the sample in a box of the scan: the voxels the pipeline's
    ``fill_outside`` moves there (computes the box's outside)."""
    data = da.asarray(box.data)
    return np.asarray(moved_array(data, lazy_outside(data)).compute())


def _inside_sample(
    distance: np.ndarray, air: np.ndarray, inner: tuple[slice, ...], spacing: Sequence[float]
) -> np.ndarray:
    """The distances of the box's map inside ``inner`` off the balls that touch the air
    (:func:`air_balls`; all of them where those balls cover every bead voxel)."""
    middle = distance[inner]
    kept = middle[~air_balls(distance, air, spacing)[inner]]
    return kept if np.any(kept > 0) else middle


def _check_polarity(kept: float, other: float, invert: bool) -> None:
    """Raise when the phase the segmentation keeps as the beads is the space between them.

    ``kept`` and ``other`` are :func:`ball_cover` of the phase kept and of the other
    (:func:`_phase_covers`). The other phase is the beads when the phase kept does not
    read as beads (under ``BEAD_COVER``), the other does, and it is covered by
    ``POLARITY_MARGIN`` more. Measured on the pipeline's masks (dense and sparse packs,
    beads cut by the faces or not, 4-15 voxels, noise up to a third of the contrast,
    rings, anisotropic voxels, radii ±60 %): beads 0.72-0.99, the pores between them
    0.28-0.48, so the other phase covered 0.26-0.70 more when the pores were kept.
    Grains far from round in front of their pores read as neither and pass: ellipsoids
    of axis ratio 1.6 cover 0.50-0.60, their pores 0.44-0.55 (0.03-0.12 less).

    Scale (2026-12-03, when :func:`beads` is given ``bead_radius=`` or
    ``min_distance=``): the covers are taken at each phase's radius estimated on the
    box, as when nothing is given, not at the radius given. The radius given is the
    beads', and when the check matters the phase kept is the pores, whose radius is
    smaller in dense packs and larger in sparse ones; at the beads' radius their
    cover rose. Measured on packs of radius 4, 6, 8, 10 and 15 voxels (numpy/scipy,
    160³, cut by the faces, dense 0.56-0.61 and sparse 0.20-0.24, blur 1, rings 0.15
    and noise 0.1 / 0.3 of the contrast): the beads kept, 0.68-0.94 at every scale
    (the radius estimated, or 0.7, 1 or 1.3 times the true one: within 0.01); the
    pores kept, 0.30-0.41 at their estimated radius, 0.33-0.54 at 0.7 times the
    beads' radius (0.27-0.48 at it, 0.23-0.43 at 1.3 times), against 0.70-0.94 for
    the beads beside them. At the estimated radius a wrong ``bead_radius`` cannot
    refuse the beads (the check does not read it).
    """
    if not (kept < BEAD_COVER <= other and other - kept >= POLARITY_MARGIN):
        return
    taken, bright = ("dark", "bright") if invert else ("bright", "dark")
    raise ValueError(
        f"beads: the {taken} phase, taken as the beads (invert={invert}), looks like the "
        "space between them: the largest balls inscribed in it at its distance maxima "
        f"cover {kept:.0%} of it, against {other:.0%} of the {bright} phase (beads: "
        f"70% and more, the pores between them under 50%); for {bright} beads pass "
        f"invert={not invert}, or check threshold="
    )


def _warn_not_grains(kept: float, invert: bool) -> None:
    """Warn when the phase kept as the beads does not read as grains of any shape.

    ``kept`` is :func:`ball_cover` of the phase kept (:func:`_phase_covers`; ``nan``
    when the box held none of it: no warning). A connected solid that is not granular
    (a thresholded Gaussian random field, as a model of a sandstone's or a foam's
    pore space) is cut by the watershed into pieces at its distance map's maxima, and
    their count and sizes say nothing about grains. Measured on the pipeline's central
    box (2026-12-05, numpy/scipy phantoms of an independent user, blur 1, noise 0.15
    of the contrast): random fields of correlation length 3, 5 and 7 voxels
    thresholded to solid fractions 0.4, 0.6 and 0.75 (128³) cover 0.37-0.44, either
    phase; at 64³ (lengths 2.5-5, fractions 0.4 and 0.6, two seeds each) 0.33-0.46
    (the 160³ field of length 4 at 0.6 was cut into 527 "beads" without a word).
    Grains: packs of log-normal spheres (radius 5-14, overlaps up to 40 % of the
    diameter) 0.83-0.92; round beads 0.68-0.99 (:func:`_check_polarity`); ellipsoids
    of radius 8 at random orientations (112³, solid 0.27), prolate of axis ratio 1.3,
    1.6 and 2.0: 0.79, 0.66, 0.58, oblate of 1.6: 0.53 (the lab book's ellipsoids of
    1.6: 0.50-0.60); the test suite's dense pack of touching ellipsoids of axis ratio
    2 (solid 0.45, 72³): 0.478. Packs beside air (a wall, the rim of the air, a free
    surface: the suite's phantoms) read 0.34-0.44, whose wall pieces and rims are in the
    phase kept: where the box holds air (:func:`_box_air`) no warning is given.
    ``NOT_GRAINS_COVER`` 0.48 warned on those ellipsoids; at 0.45 the margins are thin
    (0.03 to the ellipsoids, and one of the ten 64³ fields, 0.459, passes silently).
    """
    if not kept < NOT_GRAINS_COVER:
        return
    taken = "dark" if invert else "bright"
    warnings.warn(
        f"beads: the {taken} phase, taken as the beads, does not look like grains: the "
        "largest balls inscribed in it at its distance maxima cover "
        f"{kept:.0%} of it (packs of round beads: about 70% to 95%, of elongated grains: "
        "about 50% to 80%, a connected solid such as a random field's: about 40%); its "
        "labels are pieces the watershed cut, and their count "
        "and sizes are not those of grains (the mask's porosity still holds)",
        UserWarning,
        stacklevel=4,  # the caller of pipelines.beads(...) (the module, called)
    )


def _bead_smoothing(denoise_sigma: object, spacing: Sequence[float], units: str) -> float | None:
    """The per-bead smoothing's sigma (coordinate units) that follows the denoising's.

    :data:`~xarray_microct.ops.denoise.SHARPEN_SCALE` times the denoising sigma, the
    scale at which the denoising measured the surfaces' curvature, along the finest
    axis (the same length along every axis: the beads are round in space); ``None``
    without denoising.
    """
    if denoise_sigma is None:
        return None
    voxels = resolve_length(denoise_sigma, spacing, units, name="beads: denoise_sigma")
    return SHARPEN_SCALE * min(v * s for v, s in zip(voxels, spacing, strict=True))


def beads(
    volume: xr.DataArray | xr.DataTree,
    bead_radius: object = None,
    denoise_sigma: object = "auto",
    sharpen: bool = True,
    rings: bool = True,
    invert: bool = True,
    threshold: str | float = "otsu",
    opening_radius: object = None,
    min_distance: object = None,
    connectivity: int = 1,
    rounds: int = 8,
    split_smoothing: float = 0.25,
    bead_smoothing: object = "auto",
    level: int | str | None = None,
) -> xr.DataArray:
    """Label every bead of a bead-pack scan: the paper's Fig. 3 chain, lazily.

    Parameters
    ----------
    volume : xarray.DataArray or xarray.DataTree
        The scan (any numeric dtype), or a pyramid of it (``vol.microct.pyramid()``,
        :func:`~xarray_microct.io.open_pyramid`).
    bead_radius : length, optional
        The expected bead radius (``"10 um"``, a number in coordinate units, or
        ``"8 voxel"``): one marker per inscribed ball of a quarter of it and more
        (:func:`~xarray_microct.ops.watershed.ball_markers_array`), and the scale of
        the smoothings by bead. By default two radii are estimated from the distance
        map of the mask on a central box of the scan (:func:`sample_radii`: computes
        that box only, eagerly; the box is read for the check of ``invert`` also when
        the radius is given): the typical one (moments of the distance map, weighted
        by volume: in a pack of two sizes, near the large beads'), recorded in the
        result's ``attrs["bead_radius"]``, the watershed's ``object_radius=`` and the
        scale of the outlines' smoothing, and the small beads'
        (``attrs["small_bead_radius"]``), the watershed's ``min_object_radius=`` (a
        maximum of half of it gets a marker, so that the small beads of a polydisperse
        or bimodal pack get their own) and the scale of the smoothing of its map. In a
        pack of equal beads the two are within 10-20 % of each other. A radius given is
        used for all of these, as it is.
    denoise_sigma : "auto", length or None
        Sigma of the denoising Gaussian (:func:`~xarray_microct.ops.denoise.denoise`,
        in the scan's dtype). ``"auto"`` (the default) sets it from the
        scan's noise measured on a central box (:func:`noise_ratio`, computes that box
        of the scan only, eagerly; :func:`denoising_sigma`) and records it in the
        result's ``attrs["denoise_sigma"]`` and in the provenance; ``None`` skips
        denoising.
    sharpen : bool
        Undo, to first order, how the denoising Gaussian rounds the surfaces off
        (:func:`~xarray_microct.ops.denoise.denoise`: the ``s² / 2`` Laplacian that a
        Gaussian of sigma ``s`` adds is taken off again). Without it, the necks between
        beads fill and the beads' caps recede.
    rings : bool
        Take off ring artefacts, one offset per ``(y, x)`` column, constant along the
        rotation axis ``z`` (:func:`~xarray_microct.ops.rings.remove_rings`). It assumes
        two phases along the columns: turn it off when a third material fills whole
        columns (a container wall, air around the sample).
    invert : bool
        The beads are the dark phase (as in the paper's data, and in
        :func:`~xarray_microct.synthetic.bead_pack`): invert before thresholding. The
        phase kept is checked on the central box (computes that box only, eagerly,
        whether ``bead_radius=`` or ``min_distance=`` is given or not; doubled as for
        the radius, :func:`sample_radii`, where the distances reach past a quarter of
        it): when the largest inscribed balls at its markers cover it as they cover
        the pores between beads, and those of the other phase as they cover beads
        (:func:`ball_cover`, each phase at its own radius measured on the box, not at
        ``bead_radius``), a ``ValueError`` says to pass the other ``invert=`` (never a
        silent flip).
    threshold : str or float
        Method of :func:`~xarray_microct.ops.segment.threshold` (from the histogram of
        the whole volume) or a value (of the inverted scan when ``invert``).
    opening_radius : length or None
        Radius of an opening that removes specks and thin bridges (``None``, the
        default, skips it).
    min_distance : length, optional
        Use plain distance peaks within this radius as markers instead (the rule before
        the inscribed balls; needs tuning to the noise).
    connectivity : {1, 2, 3}
        Connectivity of hole filling and flooding.
    rounds : int
        Exchange rounds of the watershed between chunks (see
        :func:`~xarray_microct.ops.watershed.watershed`).
    split_smoothing : float
        The watershed floods the distance map smoothed by a Gaussian of this fraction
        of the small beads' radius (recorded in ``attrs["small_bead_radius"]``;
        :func:`sample_radii`), or of ``bead_radius`` when it is given (its ``smooth=``;
        0 floods the map itself): on noisy scans the rough bead surfaces bend the
        borders between touching beads, smoothed they follow the necks (the markers come
        from the map itself).
    bead_smoothing : "auto", length or None
        Sigma of the per-bead smoothing of the labels
        (:func:`~xarray_microct.ops.shapes.smooth_labels`): each bead's outline is
        blurred alone and cut where a ball of ``bead_radius`` keeps its size, which
        takes off the bumps and dents that noise puts on it without filling the necks.
        ``"auto"`` (the default): 1.5 times the denoising sigma (the scale at which the
        denoising's sharpening measures the surfaces' curvature) along the finest
        axis, recorded in the result's ``attrs["bead_smoothing"]`` (in the units of
        ``attrs["bead_smoothing_units"]``, the coordinates'; ``None`` when the scan is
        not denoised); ``None`` skips it. It assumes round beads: far from
        round grains lose their tips (by about ``sigma²`` times their curvature beyond
        ``1 / bead_radius``): on ellipsoids of axis ratio 1.6 and 6 voxels the median
        IoU drops by 0.01 (``benchmarks/beads_accuracy.py --ellipsoids``), at ratio 1.3
        it moves by -0.001 to +0.006. Not applied with ``min_distance``.
    level : int or str, optional
        Pyramid level to label when ``volume`` is a DataTree (default: the finest).

    Returns
    -------
    xarray.DataArray of int
        Lazy labels, one per bead (0 = background), numbered up to the markers' count
        (a bead the smoothing of the outlines erases, too small for it, leaves its
        number unused), on the scan's grid; the provenance lists every step with its
        parameters. Where the scan holds air about the sample (judged on the field's
        diagonals on a few slices, read now), the labels by it that are slabs or
        thinner than half the bead radius (a container wall's pieces, the air's rim)
        are set to 0 (the step ``drop_outside_labels``, replayed as the others): how
        many in the lazy coordinate ``outside_labels_dropped`` (none with
        ``min_distance``).

    Warns
    -----
    UserWarning
        When the phase kept does not look like grains of any shape on the central box
        (the largest inscribed balls at its markers cover under ``NOT_GRAINS_COVER``
        of it, as in a connected solid that is not granular): the labels are then
        pieces the watershed cut, not grains.

    Examples
    --------
    >>> from xarray_microct.synthetic import bead_pack
    >>> from xarray_microct.pipelines import beads
    >>> scan, truth = bead_pack(48, radius=6, seed=3, chunks=24)
    >>> labels = beads(scan)
    >>> int(labels.max()) == truth.attrs["n_beads"]
    True
    >>> round(labels.attrs["bead_radius"])  # estimated
    6
    >>> [r["op"] for r in labels.attrs["microct_provenance"]][-4:]
    ['core_distance', 'watershed', 'smooth_labels', 'clear_padding']
    """
    if isinstance(volume, xr.DataTree):
        volume = level_taken(volume, 0 if level is None else level)  # recorded for replay
    elif level is not None:
        raise TypeError("level= applies to a pyramid (DataTree), not to a single volume")
    grid = grid_of(volume)
    for name, flag in (("sharpen", sharpen), ("rings", rings), ("invert", invert)):
        if not isinstance(flag, bool | np.bool_):
            raise TypeError(f"beads: {name} is True or False, got {flag!r}")
    if isinstance(denoise_sigma, str) and denoise_sigma.strip().lower() == "auto":
        if denoise_sigma != "auto":
            raise ValueError(
                f"beads: denoise_sigma={denoise_sigma!r}: write 'auto' (the noise of the "
                "scan chooses it), a length such as '1 voxel', or None"
            )
    chosen_sigma = isinstance(denoise_sigma, str) and denoise_sigma == "auto"
    if chosen_sigma and volume.shape[-3] < 3:
        raise ValueError(
            f"beads: the scan has {volume.shape[-3]} slice(s) along z, too few to "
            "measure its noise; give denoise_sigma= (e.g. '1 voxel')"
        )
    estimated = bead_radius is None and min_distance is None
    # the noise, the radius and the phase kept are measured on it, whatever is given
    box = _read_central_box(volume)
    # on a cluster, each worker starts from a contiguous part of the scan (its blocks
    # hinted where it is read; every later stage on its grid follows them, at the end)
    if isinstance(volume.data, da.Array):
        volume = volume.copy(data=spread_over_workers(volume.data))
    if chosen_sigma:
        sigma = denoising_sigma(noise_ratio(box.values))
        denoise_sigma = f"{sigma:.3g} voxel" if sigma > 0 else None

    def grey(scan: xr.DataArray) -> xr.DataArray:
        # the scan as the threshold sees it: smoothed, rings off, the beads bright.
        # Air about the sample (a column filled part way, a tube in air) and the
        # out-of-field padding read as the phase around the beads
        around = "bright" if invert else "dark"
        out = scan.microct.fill_outside(around).microct.fill_padding(around)
        if denoise_sigma is not None:
            out = out.microct.denoise(sigma=denoise_sigma, sharpen=sharpen)
        if rings:
            out = out.microct.remove_rings()
        if invert:
            out = out.microct.invert()
        return out

    def segment(scan: xr.DataArray) -> xr.DataArray:
        mask = grey(scan).microct.threshold(threshold)
        if opening_radius is not None:
            mask = mask.microct.opening(radius=opening_radius)
        return mask.microct.fill_holes(connectivity=connectivity)

    def split_map(scan: xr.DataArray) -> xr.DataArray:
        # the out-of-field padding seen as beads, as beyond the faces (a cut bead keeps
        # the height of its cap)
        return grey(scan).microct.core_distance(
            threshold=threshold, connectivity=connectivity, scan=scan
        )

    # the phase kept is checked to be the beads on the central box in every path: with
    # bead_radius= or min_distance= given, the pores were labelled silently before. The
    # covers' scale is the radius estimated there, each phase's own (see _check_polarity)
    with phase("measuring the beads on a central box of the scan (radius, phase kept)"):
        sampled, small_radius, covers, air = _sample_box(volume, segment, box=box, small=estimated)
    if estimated and sampled <= 0:
        raise ValueError(
            "beads: the segmentation found no beads in the middle of the scan, so "
            "their radius cannot be estimated; check threshold= and invert=, or give "
            "bead_radius="
        )
    if not np.isfinite(sampled):  # e.g. bright beads, inverted: the pores kept
        taken, other = ("dark", "bright") if invert else ("bright", "dark")
        raise ValueError(
            "beads: the segmentation (holes filled) covers the whole scan, so the "
            f"beads cannot be told from a background: they are taken as the {taken} "
            f"phase (invert={invert}); for {other} beads pass invert={not invert}, or "
            "check threshold="
        )
    _check_polarity(*covers, invert)  # nan (no phase kept in the box): nothing to check
    if not air:  # a wall or the rim of the air lowers the beads' cover (0.34-0.44)
        _warn_not_grains(covers[0], invert)
    mask = segment(volume)
    if min_distance is not None:
        labels = mask.microct.watershed(
            min_distance=min_distance, connectivity=connectivity, rounds=rounds
        )
        return _summarised(_on_their_blocks(labels.microct.clear_padding(volume)))
    if estimated:
        bead_radius = sampled
    else:
        small_radius = None  # the smoothings by bead follow the radius given
    if not (np.isfinite(split_smoothing) and split_smoothing >= 0):
        raise ValueError(
            f"beads: split_smoothing is a fraction of the bead radius (>= 0), got "
            f"{split_smoothing!r}"
        )
    # the smoothings by bead follow the small beads (the radius given, or estimated)
    scale = bead_radius if small_radius is None else small_radius
    radius = resolve_length(scale, grid.spacing, grid.units, name="beads: bead_radius")
    smooth = None
    if split_smoothing > 0:
        smooth = tuple(split_smoothing * r * s for r, s in zip(radius, grid.spacing, strict=True))
    # the markers' plain floor follows the small beads too (half the typical radius was
    # over the small beads' depth in bimodal packs; the tests of roundness stay at it)
    rule = {"object_radius": bead_radius, "connectivity": connectivity, "rounds": rounds}
    if small_radius is not None:
        rule["min_object_radius"] = small_radius
    if opening_radius is None:
        # the mask's distance map capped by the cores', which leave out the gaps the
        # blur closed
        distance = split_map(volume)
        labels = distance.microct.watershed(**rule, smooth=smooth)
    else:  # the opened mask's own distance map (computed from the mask where needed)
        distance = mask
        labels = mask.microct.watershed(**rule, smooth=smooth)
    chosen_smoothing = isinstance(bead_smoothing, str) and bead_smoothing == "auto"
    if chosen_smoothing:
        bead_smoothing = _bead_smoothing(denoise_sigma, grid.spacing, grid.units)
    if bead_smoothing is not None:
        labels = labels.microct.smooth_labels(sigma=bead_smoothing, radius=bead_radius)
    # where the scan holds air about the sample (judged on a bounded sample, now: a scan
    # without air pays that only), the labels by it that are slabs (a wall's pieces, the
    # rim the blur mixed with the air) or thinner than half the bead radius are dropped
    around = "bright" if invert else "dark"
    if has_outside(volume, bright=invert):
        typical = resolve_length(bead_radius, grid.spacing, grid.units, name="beads: bead_radius")
        typical = float(np.mean([r * s for r, s in zip(typical, grid.spacing, strict=True)]))
        labels = labels.microct.drop_outside_labels(
            volume, distance, phase=around, min_radius=typical / 2
        )
    # the padding is no sample: where the field's edge is ragged, the blur and the
    # outlines' smoothing carried the beads it cuts into it
    labels = labels.microct.clear_padding(volume)
    labels = _summarised(_on_their_blocks(labels))
    if estimated:
        labels.attrs["bead_radius"] = bead_radius
        labels.attrs["small_bead_radius"] = small_radius
        labels.attrs["bead_radius_units"] = grid.units
    if chosen_sigma:
        labels.attrs["denoise_sigma"] = denoise_sigma
    if chosen_smoothing:
        labels.attrs["bead_smoothing"] = bead_smoothing
        labels.attrs["bead_smoothing_units"] = grid.units
    return labels


def _summarised(labels: xr.DataArray) -> xr.DataArray:
    """``labels`` with the lazy 0-d coordinates ``label_count`` (the labels present) and
    ``median_equivalent_radius`` (of the balls of their volumes, in the coordinates'
    units): computed with the labels when they are written (``microct info`` shows
    them), or on their own when read (one more pass over the labels)."""
    data = labels.data if isinstance(labels.data, da.Array) else da.from_array(labels.values)
    summary = label_summary_array(data, grid_of(labels).spacing)
    return labels.assign_coords(
        label_count=((), summary[0].astype(np.int64)), median_equivalent_radius=((), summary[1])
    )


def _on_their_blocks(labels: xr.DataArray) -> xr.DataArray:
    """``labels`` with every stage on the scan's block grid hinted to the worker of its
    block (:func:`~xarray_microct.core.blocks.placement.follow_blocks`); unchanged
    without a cluster."""
    if not isinstance(labels.data, da.Array):
        return labels
    return labels.copy(data=follow_blocks(labels.data))
