# Bake a trained run into a plain HF model, export it to GGUF (verified against the baked model) and write an
# Ollama Modelfile next to it.
# Usage: .\scripts\bake_and_convert.ps1 -Run runs\demo -Out out\demo [-Type q8_0] [-- extra `so8t export gguf` options]
param(
    [Parameter(Mandatory = $true)][string]$Run,
    [Parameter(Mandatory = $true)][string]$Out,
    [ValidateSet("f16", "f32", "bf16", "q8_0")][string]$Type = "f16",
    [Parameter(ValueFromRemainingArguments = $true)][string[]]$ExportOptions = @()
)
$ErrorActionPreference = "Stop"

function Invoke-So8t {
    & so8t @args
    if ($LASTEXITCODE -ne 0) { throw "so8t $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

$hf = Join-Path $Out "hf"
$gguf = Join-Path $Out "model-$Type.gguf"
Invoke-So8t bake --adapter $Run --out $hf
Invoke-So8t export gguf --model $hf --out $gguf --type $Type @ExportOptions
Invoke-So8t export ollama --gguf $gguf --out $Out
Write-Host "Ollama: ollama create so8t -f $(Join-Path $Out 'Modelfile')"
