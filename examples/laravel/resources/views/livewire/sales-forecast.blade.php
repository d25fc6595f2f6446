{{--
    custintel's sales forecast, as on the dashboard's /forecast page.
    Needs ApexCharts in the page (e.g. `npm install apexcharts@4.7.0` and
    `import ApexCharts from 'apexcharts'; window.ApexCharts = ApexCharts;` in resources/js/app.js).
    Use it in any admin view: <livewire:sales-forecast />
--}}
<section class="forecast" aria-labelledby="forecast-title">
    <h2 id="forecast-title">Sales forecast</h2>

    <div class="forecast-controls">
        <label for="timeframe">Timeframe</label>
        <select id="timeframe" wire:model.live="timeframe">
            <option value="daily">Daily</option>
            <option value="weekly">Weekly</option>
            <option value="monthly">Monthly</option>
        </select>

        <label for="horizon">Horizon (periods)</label>
        <select id="horizon" wire:model.live="horizon">
            @foreach ([6, 12, 24] as $n)
                <option value="{{ $n }}">{{ $n }}</option>
            @endforeach
        </select>

        <label for="by">Breakdown</label>
        <select id="by" wire:model.live="by">
            <option value="">Total</option>
            <option value="category">By category</option>
        </select>

        <label for="series">Series</label>
        <select id="series" wire:model.live="series" @disabled(count($seriesNames) < 2)>
            @foreach ($seriesNames as $name)
                <option value="{{ $name }}">{{ $name }}</option>
            @endforeach
        </select>
    </div>

    @if ($problem)
        {{-- never a blank chart: say what is missing --}}
        <p class="forecast-empty" role="status">{{ $problem }}</p>
    @endif

    {{-- Livewire must not touch the chart's DOM: ApexCharts owns it --}}
    <div wire:ignore>
        <div id="sales-forecast-chart"></div>
    </div>

    @if ($model)
        <p class="forecast-model">
            Model: <strong>{{ $model }}</strong>
            @if ($accuracy) · backtest {{ $accuracy }} @endif
        </p>
    @endif
</section>

@script
<script>
    let chart = null;
    const element = document.getElementById('sales-forecast-chart');

    $wire.on('forecast-updated', ({ options, problem }) => {
        if (chart) {
            chart.destroy();
            chart = null;
        }
        if (!options) return;
        chart = new ApexCharts(element, options);
        chart.render();
    });
</script>
@endscript
