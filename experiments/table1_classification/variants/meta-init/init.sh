# The learned SIREN initialisation of Table 1's meta-fitted INRs, once: sourced by meta-init/run_cpu.sh (the 10k /
# 2k scale) and paper-scale-meta/run_cpu.sh (all 60,000 / 10,000) after experiments/lib.sh and recipe_init.
#   INIT        the init file (git-ignored data; inits/ is INSP_INITS' default)
#   META_FIT    the overrides that fit an INR from it: 30 Adam steps, lr 1e-2 cosine to 1.5e-4 (chosen on held-out
#               train digits, meta-init/README.md)
#   meta        learns it: Reptile on train digits 0-59,743 (59,744-59,999 held out), deterministic; compile=false
#               (the eager inner loop, as when meta-init was recorded: this reproduces its init byte for byte, sha256
#               4cb796f9..., 26.76 dB on the held-out digits; the compiled loop, the default since, learns another
#               init, 26.77 dB, sha256 2e6f6344..., paper-scale-meta/README.md)
INIT=inits/table1-mnist-weights-w32d3-o10.safetensors
META_FIT=(fit.init=$INIT fit.steps=30 fit.lr=1e-2)

meta() {
  timed meta-learn insp meta-learn data=mnist model.omega0=10 meta.steps=100 meta.inner_steps=20 compile=false \
    init=$INIT tracking.mode=disabled hydra.run.dir=$OUT/meta-learn
}
