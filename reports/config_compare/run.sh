#!/usr/bin/env bash
# Equal-CPU-time learning curves: small vs wide vs deep from scratch, one thread each, same data/seed.
cd /work/main
cfg=$1; mins=${2:-12}
nice -n -5 /usr/bin/python3 train/train.py --config $cfg --data runs/s2.jsonl --heldout runs/heldout.jsonl \
  --out runs/cmp/$cfg --minutes $mins --batch 32 --threads 1 --max-enc 640 --warmup 0.05 --decay 0 \
  --qat-start 2 --val-secs 90 --val-every 0 --val-rows 96 --val-greedy 0 --contrastive 0.3 --hard-negatives 1 \
  --log runs/cmp/$cfg.log > runs/cmp/$cfg.out 2>&1
