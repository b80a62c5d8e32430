#!/usr/bin/env bash
# Issue 20's phone runs on one CUDA device, in one command of at most ~9 minutes; results land in $OUT.
#
#   OUT=out/device bash benchmarks/device_phone_runs.sh      # from the repository root, on a machine with a GPU
#
# 1. the CUDA tests of the recipes and transforms (tests/test_recipe_devices.py, tests/test_device_path.py, ...);
# 2. DnCNN replicates, one lane per seed: `noiseaug train dncnn --noise real-phone` and the NAFlow source
#    `--noise naflow-phone-spread-tone --clean sidd-train --val-on-real-pairs`, the recipe's defaults otherwise
#    (2,500 steps), `--device cuda`; even seeds train the flow source first, odd seeds the real pairs, so that a
#    deadline cuts both sources alike;
# 3. next to them, a NAFlow fine-tune of the released naflow-srgb on 160x160 crops, batch 32, on the crops that
#    travel (PolyU crops, CC15, sidd-train; not the full PolyU photos), its step count sized by a short probe run
#    to end before the deadline;
# 4. every finished DnCNN scored on the real test sets beside the released dncnn-real-phone and dncnn-naflow-phone
#    (benchmarks/denoising.py --device cuda, TF32 off);
# 5. with the time left, the throughput table on the idle GPU (benchmarks/throughput.py, fp32).
# Data: $NOISEAUG_DATA (default .devdata/, a copy of real-srgb/{polyu,nam-cc15,sidd-train,sidd-dev}).
# $OUT receives three files: report.tgz (logs, scores, tests, throughput), runs_dncnn.tgz and runs_naflow.tgz (the
# run folders without their .pt checkpoints, unless the NAFlow run ended before exporting its model).
set -u
OUT="${OUT:-out/device}"
DEVICE="${DEVICE:-cuda}"
SEEDS="${SEEDS:-0 1 2 3 4 5 6 7}"
STEPS="${STEPS:-2500}"         # DnCNN steps (the recipe's budget)
TRAIN_S="${TRAIN_S:-340}"      # every training job ends by this many seconds after the start
TOTAL_S="${TOTAL_S:-510}"      # the throughput step ends by then
PROBE="${PROBE:-40}"           # NAFlow probe steps
FLOW_BATCH="${FLOW_BATCH:-32}"
FLOW_PATCH="${FLOW_PATCH:-160}"
RUNS="${RUNS:-runs/device}"
REPORT="$RUNS/report"
mkdir -p "$OUT" "$REPORT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
export NOISEAUG_DATA="${NOISEAUG_DATA:-$PWD/.devdata}"
start=$SECONDS
left() { echo $((${1:-$TRAIN_S} - (SECONDS - start))); }
log() { echo "[$((SECONDS - start))s] $*" | tee -a "$REPORT/steps.log"; }
# released names resolve through the package noiseaug.weights: expose weights/ as such when not installed
python3 -c "import noiseaug.weights" 2>/dev/null || ln -s ../weights noiseaug/weights
nvidia-smi > "$REPORT/nvidia-smi.txt" 2>&1
python3 -c "import torch, noiseaug; print(torch.__version__, torch.version.cuda, torch.cuda.is_available() and \
torch.cuda.get_device_name(0))" > "$REPORT/torch.txt" 2>&1
log "$(cat "$REPORT/torch.txt")"

timeout 200 python3 -m pytest -q -p no:cacheprovider -rs tests/test_recipe_devices.py tests/test_device_path.py \
    tests/test_pipeline.py tests/test_naflow_transform.py -k "cuda or graph or device or sync" \
    > "$REPORT/tests.log" 2>&1 &
tests=$!

dncnn() {  # dncnn real|flow SEED
    local name=$1-s$2 limit
    limit=$(left)
    if [ "$limit" -lt 30 ]; then log "$name: not started (deadline)"; return; fi
    if [ "$1" = real ]; then set -- --noise real-phone --seed "$2"; else
        set -- --noise naflow-phone-spread-tone --clean sidd-train --flow weights/naflow-srgb --seed "$2" \
            --val-on-real-pairs
    fi
    timeout "$limit" python3 -m noiseaug train dncnn "$@" --steps "$STEPS" --device "$DEVICE" --out "$RUNS/$name" \
        > "$RUNS/$name.log" 2>&1
    log "$name: rc=$?"
}
lanes=()
for s in $SEEDS; do
    if [ $((s % 2)) -eq 0 ]; then (dncnn flow "$s"; dncnn real "$s") & else (dncnn real "$s"; dncnn flow "$s") & fi
    lanes+=($!)
done

flow=(train naflow --device "$DEVICE" --init weights/naflow-srgb --sources polyu,cc15,sidd-train
    --patch "$FLOW_PATCH" --batch "$FLOW_BATCH" --lr 2e-4)
timeout 150 python3 -m noiseaug "${flow[@]}" --steps "$PROBE" --val-every "$PROBE" --out "$RUNS/naflow-probe" \
    > "$RUNS/naflow-probe.log" 2>&1
flow_steps=$(python3 - "$RUNS/naflow-probe/history.json" "$PROBE" "$(left)" <<'EOF'
import json, sys
history, probe, left = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
rate = probe / history[-1]["elapsed_s"]  # steps/s while the DnCNN lanes share the GPU
print(max(250, int(0.8 * (left - 45) * rate) // 250 * 250))
EOF
)
log "naflow probe: $(tail -c 300 "$RUNS/naflow-probe.log" | tr '\r' '\n' | tail -n 2 | head -n 1); steps ${flow_steps:-?}"
if [ -n "${flow_steps:-}" ]; then
    timeout "$(left)" python3 -m noiseaug "${flow[@]}" --steps "$flow_steps" --val-every 250 --out "$RUNS/naflow" \
        > "$RUNS/naflow.log" 2>&1
    log "naflow: rc=$?"
fi &
flow_job=$!

wait "${lanes[@]}"
log "dncnn lanes done"
models=(--model real-phone=weights/dncnn-real-phone --model naflow-phone=weights/dncnn-naflow-phone)
for s in $SEEDS; do
    for source in real flow; do
        [ -f "$RUNS/$source-s$s/denoiser/model.safetensors" ] && models+=(--model "$source#$s=$RUNS/$source-s$s/denoiser")
    done
done
timeout 150 python3 benchmarks/denoising.py "${models[@]}" --device "$DEVICE" --no-figure --out "$REPORT/score" \
    > "$REPORT/score.log" 2>&1
log "score: rc=$?"
wait "$tests" "$flow_job"
log "tests: $(tail -n 1 "$REPORT/tests.log")"
tar czf "$OUT/runs_dncnn.tgz" --exclude='*.pt' --exclude='naflow*' --exclude=report -C "$(dirname "$RUNS")" \
    "$(basename "$RUNS")"
[ -d "$RUNS/naflow/model" ] || cp "$RUNS/naflow/best.pt" "$RUNS/naflow-best.pt" 2>/dev/null
tar czf "$OUT/runs_naflow.tgz" --exclude='last.pt' --exclude='best.pt' -C "$(dirname "$RUNS")" \
    "$(basename "$RUNS")/naflow" "$(basename "$RUNS")/naflow-probe" "$(basename "$RUNS")/naflow.log" \
    "$(basename "$RUNS")/naflow-probe.log" $([ -f "$RUNS/naflow-best.pt" ] && echo "$(basename "$RUNS")/naflow-best.pt")
log "packed"
if [ "$(left "$TOTAL_S")" -gt 60 ] && [ "$DEVICE" != cpu ]; then
    timeout "$(left "$TOTAL_S")" python3 benchmarks/throughput.py --device "$DEVICE" --batch 32 --size 256 \
        --repeats 10 --warmup 3 --inference-mode --out "$REPORT/fp32" > "$REPORT/throughput.log" 2>&1
    log "throughput: rc=$?"
fi
tar czf "$OUT/report.tgz" -C "$RUNS" report
head -n 60 "$REPORT/score/denoising.md" 2>/dev/null
tail -n 5 "$REPORT/tests.log"
cat "$REPORT/steps.log"
ls -la "$OUT"
