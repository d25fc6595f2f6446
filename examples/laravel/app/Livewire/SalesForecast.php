<?php

namespace App\Livewire;

use Illuminate\Support\Facades\Cache;
use Illuminate\Support\Facades\Http;
use Livewire\Attributes\Validate;
use Livewire\Component;

/**
 * custintel's sales forecast in a Livewire 3 admin page: the same chart as the
 * dashboard's /forecast page (history, forecast, 80 % and 95 % bands), drawn by the
 * shop's own ApexCharts from GET /v1/forecasts.
 *
 * The API key stays on the server (config/services.php, from .env); the browser only
 * gets the chart's series.
 */
class SalesForecast extends Component
{
    #[Validate('in:daily,weekly,monthly')]
    public string $timeframe = 'monthly';

    #[Validate('in:6,12,24')]
    public int $horizon = 12;

    /** '' for the shop total, 'category' for one series per category. */
    #[Validate('in:,category')]
    public string $by = '';

    public string $series = 'total';

    /** @var list<string> the series the API offers for the chosen breakdown */
    public array $seriesNames = ['total'];

    public ?string $model = null;

    public ?string $accuracy = null;

    public ?string $problem = null;

    public function mount(): void
    {
        $this->refresh();
    }

    public function updated(string $property): void
    {
        $this->validate();
        $this->refresh();
    }

    public function render()
    {
        return view('livewire.sales-forecast');
    }

    private function refresh(): void
    {
        $query = array_filter([
            'timeframe' => $this->timeframe,
            'horizon' => $this->horizon,
            'by' => $this->by ?: null,
        ]);
        // The API answers with an ETag and its forecasts change only when a model is
        // retrained: a short cache keeps admin pages quick.
        $answer = Cache::remember('custintel.forecasts.'.md5(json_encode($query)), 300, function () use ($query) {
            $response = Http::baseUrl(config('services.custintel.url'))
                ->withToken(config('services.custintel.key'))
                ->acceptJson()
                ->timeout(10)
                ->get('/v1/forecasts', $query);

            // 409: no forecasting model yet; 404/422: not trained for this choice.
            // problem+json says what to do in "detail".
            return $response->successful()
                ? ['ok' => true, 'body' => $response->json()]
                : ['ok' => false, 'body' => $response->json() ?? ['detail' => $response->reason()]];
        });

        if (! $answer['ok']) {
            $this->problem = $answer['body']['detail'] ?? 'the forecast is not available';
            $this->model = $this->accuracy = null;
            $this->dispatch('forecast-updated', options: null, problem: $this->problem);

            return;
        }

        $body = $answer['body'];
        $this->problem = null;
        $this->seriesNames = array_column($body['series'], 'series');
        if (! in_array($this->series, $this->seriesNames, true)) {
            $this->series = in_array('total', $this->seriesNames, true) ? 'total' : $this->seriesNames[0];
        }
        $chosen = collect($body['series'])->firstWhere('series', $this->series);

        $this->model = $chosen['model'];
        $metrics = $chosen['backtest']['metrics'] ?? [];
        $this->accuracy = isset($metrics['mase'])
            ? sprintf('MASE %.2f vs %.2f for %s', $metrics['mase'], $metrics['floor_mase'] ?? NAN, $metrics['floor_model'] ?? 'seasonal naive')
            : null;

        $this->dispatch('forecast-updated', options: $this->chartOptions($chosen), problem: null);
    }

    /** ApexCharts options: two rangeArea bands first, then the history and forecast lines. */
    private function chartOptions(array $series): array
    {
        $ms = fn (string $date) => strtotime($date.' UTC') * 1000;
        $band = fn (string $lo, string $hi) => array_map(
            fn ($p) => ['x' => $ms($p['date']), 'y' => [$p[$lo], $p[$hi]]],
            array_values(array_filter($series['forecast'], fn ($p) => $p[$lo] !== null && $p[$hi] !== null)),
        );

        return [
            'chart' => ['type' => 'rangeArea', 'height' => 380, 'animations' => ['enabled' => false]],
            'series' => [
                ['type' => 'rangeArea', 'name' => '95 % interval', 'data' => $band('lower_95', 'upper_95')],
                ['type' => 'rangeArea', 'name' => '80 % interval', 'data' => $band('lower_80', 'upper_80')],
                ['type' => 'line', 'name' => 'History', 'data' => array_map(
                    fn ($p) => ['x' => $ms($p['date']), 'y' => $p['value']],
                    array_slice($series['history'], -60),
                )],
                ['type' => 'line', 'name' => 'Forecast', 'data' => array_map(
                    fn ($p) => ['x' => $ms($p['date']), 'y' => $p['forecast']],
                    $series['forecast'],
                )],
            ],
            // Okabe-Ito colours, as on custintel's own dashboard (colour-blind safe).
            'colors' => ['#E69F00', '#E69F00', '#0072B2', '#D55E00'],
            'fill' => ['opacity' => [0.18, 0.38, 1, 1]],
            'stroke' => ['curve' => 'straight', 'width' => [0, 0, 2, 2.5], 'dashArray' => [0, 0, 0, 5]],
            'xaxis' => ['type' => 'datetime'],
            'dataLabels' => ['enabled' => false],
            'legend' => ['position' => 'bottom'],
            'tooltip' => ['shared' => true],
        ];
    }
}
