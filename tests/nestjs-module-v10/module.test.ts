import { describeBallastModule } from '../../packages/nestjs/test/suites/module.suite';

describeBallastModule(10);
